"""SCAR's event launcher: one S3 event per file already in a function's input folder.

The first event is sent synchronously (it warms the sandbox's image cache), the rest
asynchronously from a bounded thread pool, with progress lines and a summary.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from scar_ci.aws.parallel import Completions, worker_pool
from scar_ci.aws.session import Aws
from scar_ci.commands.invocation import invoke
from scar_ci.commands.verbs import DEFAULT_CONCURRENCY


def input_objects(aws: Aws, folders: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(bucket, key) of every file under the folders, in listing order (folder markers left out)."""
    from scar_ci.aws.resource import paginate

    found = []
    for bucket, folder in folders:
        prefix = f"{folder}/" if folder else ""
        found.extend((bucket, item["Key"]) for item in
                     paginate(aws.client("s3"), "list_objects_v2", "Contents",
                              Bucket=bucket, Prefix=prefix)
                     if not item["Key"].endswith("/"))
    return found


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """The notification S3 would send for an upload of `key` (keys are URL-encoded, as S3 does)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/")}},
    }]}


@dataclass
class FanOut:
    """What a fan-out sent; `failed` holds (s3 URI, reason)."""

    total: int
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"fan-out: {self.total} file(s), {self.sent} sent, {len(self.failed)} failed, "
                f"in {self.seconds:.1f} s")


def fan_out(aws: Aws, function: str, objects: list[tuple[str, str]], *,
            concurrency: int = DEFAULT_CONCURRENCY,
            say: Callable[[str], None] = print,
            tick: Callable[[int, str], None] | None = None) -> FanOut:
    """Send one event per object: the first synchronously, the rest asynchronously;
    `tick(sent so far, note)` follows the asynchronous ones."""
    started = time.monotonic()
    result = FanOut(len(objects))
    if objects:
        first, rest = objects[0], objects[1:]
        answer = _send(aws, function, first, asynchronous=False)
        _count(result, first, answer)
        say(f"{_uri(first)}: {'failed' if answer else 'done'} (synchronously, warms the cache)")
        with worker_pool(concurrency) as pool:  # Ctrl-C sends no more events
            calls = Completions(pool)
            futures = {calls.submit(functools.partial(_send, aws, function, item,
                                                      asynchronous=True)): item
                       for item in rest}
            for done in range(1, len(futures) + 1):
                future = calls.next_done()
                _count(result, futures[future], future.result())
                if tick:
                    tick(done, f"{len(result.failed)} failed so far")
    result.seconds = time.monotonic() - started
    return result


def _send(aws: Aws, function: str, item: tuple[str, str], *, asynchronous: bool) -> str | None:
    """None when sent (and, synchronously, when the function succeeded), else the reason."""
    from scar_ci.aws.errors import AWS_EXCEPTIONS, explain

    try:
        answer = invoke(aws, function, s3_event(*item), asynchronous=asynchronous)
    except AWS_EXCEPTIONS as error:
        return str(explain(error))
    return answer.output.rstrip() if answer.error else None


def _count(result: FanOut, item: tuple[str, str], reason: str | None) -> None:
    if reason is None:
        result.sent += 1
    else:
        result.failed.append((_uri(item), reason))


def _uri(item: tuple[str, str]) -> str:
    return f"s3://{item[0]}/{item[1]}"
