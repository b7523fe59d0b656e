"""A function's log events from CloudWatch Logs: by stream, by request, since a time, followed."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scar_ci.aws.session import Aws
from scar_ci.commands.output import say_to
from scar_ci.commands.target import ScopeOf, single, targets
from scar_ci.errors import UsageError, UserError

POLL_S = 1.0
_AGO = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since_ms(text: str, now: datetime | None = None) -> int:
    """`--since`: `90s`, `10m`, `2h`, `1d` ago, or an ISO 8601 time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    ago = _AGO.fullmatch(text.strip())
    if ago:
        moment = now - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(f"--since {text!r}: expected an age like 30s, 10m, 2h, 1d or a time "
                             "like 2026-11-24T18:00:00") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def events(aws: Aws, group: str, *, stream: str | None = None,
           start: int | None = None) -> Iterator[dict[str, Any]]:
    """The group's events in time order (one stream's when given), from `start` (ms) on."""
    from scar_ci.aws.errors import is_not_found
    from scar_ci.aws.resource import paginate

    query: dict[str, Any] = {"logGroupName": group}
    if stream:
        query["logStreamNames"] = [stream]
    if start is not None:
        query["startTime"] = start
    try:
        yield from paginate(aws.client("logs"), "filter_log_events", "events", **query)
    except Exception as error:
        if is_not_found(error):
            raise UserError(f"no logs at {group}{f' stream {stream!r}' if stream else ''}: "
                            "check the function name and scope (a function that never ran "
                            "has none)") from None
        raise


class RequestFilter:
    """Keeps the events of one request: from `START RequestId: <id>` to its `REPORT` line."""

    def __init__(self, request_id: str) -> None:
        self.start = f"START RequestId: {request_id}"
        self.report = f"REPORT RequestId: {request_id}"
        self.open_streams: set[str] = set()
        self.finished = False

    def keep(self, event: dict[str, Any]) -> bool:
        stream, message = event.get("logStreamName", ""), event.get("message", "")
        if message.startswith(self.start):
            self.open_streams.add(stream)
        if stream not in self.open_streams:
            return False
        if message.startswith(self.report):
            self.open_streams.discard(stream)
            self.finished = True
        return True


def show(found: Iterable[dict[str, Any]], say: Callable[[str], None],
         request: RequestFilter | None = None) -> int:
    """Print the events (those of `request` when given); how many were printed."""
    shown = 0
    for event in found:
        if request is None or request.keep(event):
            say(event.get("message", "").rstrip("\n"))
            shown += 1
    return shown


def follow(aws: Aws, group: str, *, stream: str | None, start: int | None,
           say: Callable[[str], None], request: RequestFilter | None = None) -> None:
    """Print events as they arrive; ends with the request's REPORT line, else on Ctrl-C."""
    seen: set[str] = set()
    while True:
        try:
            fresh = [e for e in events(aws, group, stream=stream, start=start)
                     if e.get("eventId") not in seen]
        except UserError:  # the group appears with the function's first run
            fresh = []
        seen.update(e.get("eventId", "") for e in fresh)
        if fresh:
            start = max(e.get("timestamp", 0) for e in fresh)
        show(fresh, say, request)
        if request is not None and request.finished:
            return
        time.sleep(POLL_S)


def cmd_logs(args: argparse.Namespace, scope_of: ScopeOf) -> int:
    """Print a function's log events (`--follow`: until its request ends, or Ctrl-C)."""
    from scar_ci.commands.services import logs_service, service_target

    if (service := service_target(args, scope_of)) is not None:
        return logs_service(args, service)
    aws, found = targets(args, scope_of)
    group = single(found, args).log_group
    start = since_ms(args.since) if args.since else None
    request = RequestFilter(args.request_id) if args.request_id else None
    if args.follow:
        follow(aws, group, stream=args.stream, start=start, say=say_to(), request=request)
    elif not show(events(aws, group, stream=args.stream, start=start), say_to(),
                  request) and request is not None:
        raise UserError(f"no events of request {args.request_id!r} in {group}: check the "
                        "request ID ('scar-ci run' prints it), or add --follow to wait "
                        "for it")
    return 0
