"""S3 triggers: a bucket notification for an input folder, and the permission it needs.

The notification entry is merged into the bucket's configuration: entries of others (other
functions, other scopes, other tools) are kept as they are. scar-ci's entries have the Id
`scar-ci--<function>--<hash of the folder>`, its permission statements the Sid
`scar-ci-s3-<same hash>`: both are found again from the live function alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scar_ci.aws.errors import is_not_found
from scar_ci.aws.lambda_ import allow_invoke, function_arn, permissions, revoke_invoke, source_arn
from scar_ci.aws.resource import Key, Resource, Settings, absent_ok
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
        return ("function", self.function), ("bucket", self.bucket)

    def wanted(self) -> Settings:
        return {"prefix": self.prefix, "events": EVENTS, "permission": True}

    def describe(self) -> str:
        return "on object created"

    def read(self, aws: Aws) -> Settings | None:
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
        allow_invoke(aws, self.function, self.sid, "s3.amazonaws.com", self._source)
        self._merge(aws, {
            "Id": self.entry_id, "LambdaFunctionArn": function_arn(aws, self.function),
            "Events": EVENTS,
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": self.prefix}]}},
        })

    def update(self, aws: Aws, live: Settings) -> None:
        self.create(aws)

    def delete(self, aws: Aws) -> None:
        self._merge(aws, None)
        revoke_invoke(aws, self.function, self.sid)

    def _merge(self, aws: Aws, entry: dict[str, Any] | None) -> None:
        """Put the bucket's configuration with our entry replaced (or removed, for None)."""
        try:
            current = _notifications(aws, self.bucket)
        except Exception as error:
            if entry is None and is_not_found(error):
                return
            raise
        merged = {kind: [e for e in current.get(kind, ()) if e.get("Id") != self.entry_id]
                  for kind in (*CONFIG_KINDS,)}
        if entry is not None:
            merged["LambdaFunctionConfigurations"].append(entry)
        configuration = {k: v for k, v in merged.items() if v}
        if "EventBridgeConfiguration" in current:
            configuration["EventBridgeConfiguration"] = current["EventBridgeConfiguration"]
        aws.client("s3").put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration=configuration)


def _notifications(aws: Aws, bucket: str) -> dict[str, Any]:
    answer = aws.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


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
