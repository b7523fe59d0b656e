"""S3 triggers: a bucket notification for an input folder, and the permission it needs.

The notification entry is merged into the bucket's configuration: entries of others (other
functions, other scopes, other tools) are kept as they are. scar-ci's entries have the Id
`scar-ci--<function>--<hash of the folder>`, its permission statements the Sid
`scar-ci-s3-<same hash>`: both are found again from the live function alone.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scar_ci.aws.errors import is_not_found
from scar_ci.aws.lambda_ import (
    allow_invoke,
    function_arn,
    permissions,
    revoke_invoke,
    source_arn,
    until_all_active,
)
from scar_ci.aws.resource import Key, Resource, Settings, absent_ok
from scar_ci.aws.s3 import bucket_tags
from scar_ci.aws.session import Aws

EVENTS = ["s3:ObjectCreated:*"]
SID_PREFIX = "scar-ci-s3-"
CONFIG_KINDS = ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass
class Trigger(Resource):
    """`bucket/folder` -> function: objects created under the folder invoke the function."""

    kind = "trigger"
    bucket: str
    folder: str
    function: str
    # the functions of the bucket's other triggers, waited for too: a bucket's triggers then
    # start together and their notification entries are written in one batch
    along: tuple[str, ...] = field(default=(), compare=False)
    # the bucket did not exist when planned: it has no notification configuration to read
    new_bucket: bool = field(default=False, compare=False, repr=False)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.bucket}/{self.folder} -> {self.function}"

    @property
    def entry_id(self) -> str:
        return f"scar-ci--{self.function}--{_digest(self.folder)}"

    @property
    def sid(self) -> str:
        return f"{SID_PREFIX}{_digest(f'{self.bucket}/{self.folder}')}"

    @property
    def prefix(self) -> str:
        return f"{self.folder}/" if self.folder else ""

    def depends_on(self) -> tuple[Key, ...]:
        return (("function", self.function), ("bucket", self.bucket),
                *(("function", f) for f in self.along if f != self.function))

    def wanted(self) -> Settings:
        return {"prefix": self.prefix, "events": EVENTS, "permission": True}

    def describe(self) -> str:
        return "on object created"

    def read(self, aws: Aws) -> Settings | None:
        if bucket_tags(aws, self.bucket) is None:  # no bucket yet (read once with its own)
            self.new_bucket = True
            return None
        configuration = absent_ok(_notifications, aws=aws, bucket=self.bucket) or {}
        entry = next((e for e in configuration.get("LambdaFunctionConfigurations", ())
                      if e.get("Id") == self.entry_id), None)
        if entry is None:
            return None
        arn = function_arn(aws, self.function)
        rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", ())
        prefix = next((r["Value"] for r in rules if r["Name"].lower() == "prefix"), "")
        statement = permissions(aws, self.function).get(self.sid)
        return {"prefix": prefix if entry["LambdaFunctionArn"] == arn else None,
                "events": entry.get("Events"),
                "permission": bool(statement) and source_arn(statement) == self._source}

    @property
    def _source(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    def create(self, aws: Aws) -> None:
        until_all_active(aws, {self.function, *self.along})  # the bucket's entries: a batch
        allow_invoke(aws, self.function, self.sid, "s3.amazonaws.com", self._source)
        _writer(self.bucket).change(aws, self.entry_id, {
            "Id": self.entry_id, "LambdaFunctionArn": function_arn(aws, self.function),
            "Events": EVENTS,
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": self.prefix}]}},
        }, new_bucket=self.new_bucket)

    def update(self, aws: Aws, live: Settings) -> None:
        self.create(aws)

    def delete(self, aws: Aws) -> None:
        _writer(self.bucket).change(aws, self.entry_id, None)
        revoke_invoke(aws, self.function, self.sid)


@dataclass
class _Change:
    """One entry to replace (or, with None, remove) in a bucket's configuration."""

    entry_id: str
    entry: dict[str, Any] | None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class _NotificationWriter:
    """A bucket's notification configuration is one document, read, changed and written
    whole: triggers of one bucket applied side by side would overwrite each other's entries.
    Their changes are queued and written together instead: whoever finds no write going
    writes for everyone until the queue is empty, each time reading the configuration first
    and only then taking the queue, so the changes queued during that read join the batch
    (one read and one write per batch; no read before a session's first write to a bucket
    it created, `new_bucket`, which has no configuration yet)."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._lock = threading.Lock()
        self._queue: list[_Change] = []
        self._writing = False
        self._wrote: weakref.WeakSet[Aws] = weakref.WeakSet()  # sessions that wrote here

    def change(self, aws: Aws, entry_id: str, entry: dict[str, Any] | None, *,
               new_bucket: bool = False) -> None:
        mine = _Change(entry_id, entry)
        with self._lock:
            self._queue.append(mine)
            lead, self._writing = not self._writing, True
        while lead:
            with self._lock:
                if not self._queue:
                    self._writing = lead = False
                    break
            try:
                current: dict[str, Any] | Exception = (
                    {} if new_bucket and aws not in self._wrote
                    else _notifications(aws, self.bucket))
            except Exception as error:
                current = error
            with self._lock:
                batch, self._queue = self._queue, []
            try:
                self._write(aws, current, batch)
                self._wrote.add(aws)
            except Exception as error:
                for change in batch:
                    change.error = error
            for change in batch:
                change.done.set()
        mine.done.wait()
        if mine.error is not None:
            raise mine.error

    def _write(self, aws: Aws, current: dict[str, Any] | Exception, batch: list[_Change]
               ) -> None:
        """Put `current` (or the error reading it gave) with the batch's entries replaced
        (or removed); removing entries from a bucket that is gone is done."""
        if isinstance(current, Exception):
            if all(c.entry is None for c in batch) and is_not_found(current):
                return
            raise current
        ids = {c.entry_id for c in batch}
        merged = {kind: [e for e in current.get(kind, ()) if e.get("Id") not in ids]
                  for kind in CONFIG_KINDS}
        merged["LambdaFunctionConfigurations"].extend(c.entry for c in batch if c.entry)
        configuration = {k: v for k, v in merged.items() if v}
        if "EventBridgeConfiguration" in current:
            configuration["EventBridgeConfiguration"] = current["EventBridgeConfiguration"]
        aws.client("s3").put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration=configuration)


_writers: dict[str, _NotificationWriter] = {}
_writers_lock = threading.Lock()


def _writer(bucket: str) -> _NotificationWriter:
    with _writers_lock:
        return _writers.setdefault(bucket, _NotificationWriter(bucket))


def _notifications(aws: Aws, bucket: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        answer = aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    return aws.fact(("s3 notifications", bucket), read)


def discover_triggers(aws: Aws, function: str) -> Iterator[Trigger]:
    """The triggers of a live function, found through its permissions and the buckets they name."""
    buckets = {source_arn(s).removeprefix("arn:aws:s3:::")
               for sid, s in permissions(aws, function).items()
               if sid.startswith(SID_PREFIX) and source_arn(s)}
    marker = f"scar-ci--{function}--"
    for bucket in sorted(buckets):
        try:
            entries = _notifications(aws, bucket).get("LambdaFunctionConfigurations", ())
        except Exception as error:
            if is_not_found(error):
                continue
            raise
        for entry in entries:
            if entry.get("Id", "").startswith(marker):
                rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", ())
                prefix = next((r["Value"] for r in rules if r["Name"].lower() == "prefix"), "")
                yield Trigger(bucket, prefix.rstrip("/"), function)
