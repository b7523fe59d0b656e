"""CloudWatch Logs: the log group of a function, with its retention."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scar_ci.aws.resource import (
    Resource,
    Settings,
    absent_ok,
    ensure_ours,
    may_belong,
    owned_of,
    paginate,
)
from scar_ci.aws.session import Aws
from scar_ci.scopes.scope import LOG_GROUP_PREFIX, Scope
from scar_ci.scopes.tags import TAG_MANAGED, our_tags


@dataclass
class LogGroup(Resource):
    """`/aws/lambda/<function>` with the FDL's retention."""

    kind = "log group"
    name: str
    retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)

    def wanted(self) -> Settings:
        return {"retention": self.retention_days, "tags": dict(self.tags)}

    def describe(self) -> str:
        return f"retention {self.retention_days} days"

    def read(self, aws: Aws) -> Settings | None:
        groups = (function_log_groups(aws) if self.name.startswith(LOG_GROUP_PREFIX) else
                  aws.client("logs").describe_log_groups(
                      logGroupNamePrefix=self.name)["logGroups"])
        group = next((g for g in groups if g["logGroupName"] == self.name), None)
        if group is None:
            return None
        tags = _tags(aws, self.name) or {}
        if tags.get(TAG_MANAGED) == "true":  # an untagged one (Lambda made it) is adopted
            ensure_ours(self, tags, self.tags)
        return {"retention": group.get("retentionInDays"), "tags": our_tags(tags)}

    def create(self, aws: Aws) -> None:
        aws.client("logs").create_log_group(logGroupName=self.name, tags=dict(self.tags))
        self._retention(aws)

    def update(self, aws: Aws, live: Settings) -> None:
        if live["retention"] != self.retention_days:
            self._retention(aws)
        if live["tags"] != self.tags:
            aws.client("logs").tag_log_group(logGroupName=self.name, tags=dict(self.tags))

    def _retention(self, aws: Aws) -> None:
        aws.client("logs").put_retention_policy(
            logGroupName=self.name, retentionInDays=self.retention_days)

    def delete(self, aws: Aws) -> None:
        absent_ok(aws.client("logs").delete_log_group, logGroupName=self.name)


def discover_log_groups(aws: Aws, scope: Scope, skip: Collection[str] = ()
                        ) -> Iterator[LogGroup]:
    """The scope's function log groups, their tags read side by side (but those named in
    `skip`, which the caller reads anyway)."""
    names = [group["logGroupName"] for group in function_log_groups(aws)
             if group["logGroupName"] not in skip and may_belong(scope, group["logGroupName"])]
    for name, tags in owned_of(scope, names, lambda name: _tags(aws, name)):
        yield LogGroup(name, tags=tags)


def function_log_groups(aws: Aws) -> list[dict[str, Any]]:
    """Every log group under /aws/lambda/ (read once while planning)."""
    return aws.fact("lambda log groups", lambda: list(paginate(
        aws.client("logs"), "describe_log_groups", "logGroups",
        logGroupNamePrefix=LOG_GROUP_PREFIX)))


def _tags(aws: Aws, name: str) -> dict[str, str] | None:
    """A log group's tags, None when it is gone (read once while planning)."""
    answer = aws.fact(("log group tags", name), lambda: absent_ok(
        aws.client("logs").list_tags_log_group, logGroupName=name))
    return None if answer is None else answer.get("tags") or {}


def know_tags(aws: Aws, listed: Mapping[str, Mapping[str, str]]) -> None:
    """Take the tags of the log groups among `listed` (ARN -> tags, the tagging API's answer)
    as read, so the plan reads none of them one by one; one it does not list (untagged, or
    not yet listed by an eventually consistent API) is still read."""
    for arn, tags in listed.items():
        if ":log-group:" in arn:
            name = arn.partition(":log-group:")[2].removesuffix(":*")
            aws.know(("log group tags", name), {"tags": dict(tags)})
