"""Every scope scar-ci deployed in an account and region, from its tags in one paginated pass.

The Resource Groups Tagging API (tag:GetResources, filtered on `scar-ci:managed=true`) answers
with the tags of every tagged resource of the region at once. On AWS that covers functions,
buckets, APIs, log groups, parameters, repositories and Batch; LocalStack's community edition
answers it for log groups and parameters only, which still finds every scope, since each
function has its log group (created right after its role). IAM roles are not in it: a scope
left with nothing but a role is not listed. REST APIs list their tags inline, so `ls` reads
their URLs in one more pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scar_ci.aws.errors import AwsFailure, explain
from scar_ci.aws.resource import paginate, unavailable
from scar_ci.scopes.scope import Scope, created_now, scope_from_tags
from scar_ci.scopes.tags import (
    TAG_CREATED,
    TAG_LAMBDA,
    TAG_MANAGED,
    TAG_SCOPE,
    tag_dict,
)

if TYPE_CHECKING:
    from scar_ci.aws.session import Aws

NEEDED = "tag:GetResources"


@dataclass
class DeployedScope:
    """One scope found in the account: rebuilt from its tags, with what it holds."""

    scope: Scope
    functions: set[str] = field(default_factory=set)  # deployed function names
    resources: int = 0  # tagged resources the pass saw
    urls: dict[str, str] = field(default_factory=dict)  # API URL by deployed function
    services: set[str] = field(default_factory=set)  # OSCAR services, `<cluster>/<name>`

    @property
    def key(self) -> tuple[str, str | None]:
        return self.scope.label, self.scope.source


def add_found(found: dict[tuple[str, str | None], DeployedScope], scope: Scope
              ) -> DeployedScope:
    """The entry of `scope` in `found` (made when new), keeping the oldest creation time and
    the exact ref that one of its resources gives; one more resource counted."""
    entry = found.setdefault((scope.label, scope.source), DeployedScope(scope))
    entry.resources += 1
    if scope.created and (entry.scope.created or "9") > scope.created:
        entry.scope = replace(entry.scope, created=scope.created)
    if entry.scope.ident is None and scope.ident is not None:
        entry.scope = replace(entry.scope, ident=scope.ident)
    return entry


def merged(*groups: list[DeployedScope]) -> list[DeployedScope]:
    """The scopes of several inventories (AWS's, the OSCAR clusters'), one entry per scope."""
    found: dict[tuple[str, str | None], DeployedScope] = {}
    for group in groups:
        for one in group:
            entry = add_found(found, one.scope)
            entry.resources += one.resources - 1
            entry.functions |= one.functions
            entry.services |= one.services
            entry.urls.update(one.urls)
    return sorted(found.values(), key=lambda d: (d.scope.label, d.scope.source or ""))


def tagged(aws: Aws, **tags: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(ARN, tags) of every resource scar-ci manages here that carries `tags` too."""
    filters = [{"Key": TAG_MANAGED, "Values": ["true"]},
               *({"Key": k, "Values": [v]} for k, v in tags.items())]
    for item in paginate(aws.client("resourcegroupstaggingapi"), "get_resources",
                         "ResourceTagMappingList", TagFilters=filters,
                         TagsPerPage=500):  # pages end at a number of tags: the most
        yield item["ResourceARN"], tag_dict(item.get("Tags"))


def deployed_scopes(aws: Aws) -> list[DeployedScope]:
    """Every scope deployed here, by label and repository, oldest creation time kept."""
    found: dict[tuple[str, str | None], DeployedScope] = {}
    try:
        for arn, tags in tagged(aws):
            scope = scope_from_tags(tags)
            if scope is None:
                continue
            entry = add_found(found, scope)
            function = _function_of(arn, tags)
            if function:
                entry.functions.add(function)
    except ClientError as error:
        if unavailable(error):
            raise AwsFailure(f"{explain(error)}; listing the scopes needs the permission "
                             f"{NEEDED} (the Resource Groups Tagging API)") from None
        raise
    return sorted(found.values(), key=lambda d: (d.scope.label, d.scope.source or ""))


def _function_of(arn: str, tags: dict[str, str]) -> str | None:
    """The deployed function a resource is or belongs to (log groups, APIs name theirs)."""
    if arn.startswith("arn:aws:lambda:") and ":function:" in arn:
        return arn.split(":function:", 1)[1].split(":", 1)[0]
    return tags.get(TAG_LAMBDA)


def add_api_urls(aws: Aws, scopes: list[DeployedScope]) -> None:
    """Fill each scope's API URLs from one pass over the REST APIs (their tags come inline)."""
    from scar_ci.aws.apigateway import url_of

    by_key = {d.key: d for d in scopes}
    for api in paginate(aws.client("apigateway"), "get_rest_apis", "items"):
        tags = api.get("tags") or {}
        scope = scope_from_tags(tags)
        entry = by_key.get((scope.label, scope.source)) if scope else None
        if entry is not None and TAG_LAMBDA in tags:
            entry.urls[tags[TAG_LAMBDA]] = url_of(aws, api)


def scope_resources(aws: Aws, scope: Scope) -> dict[str, dict[str, str]] | None:
    """ARN -> tags of the scope's resources, as the tagging API lists them (one paginated
    pass); None when that API is not available to us."""
    try:
        return {arn: tags for arn, tags in tagged(aws, **{TAG_SCOPE: scope.label})
                if scope.owns(tags)}
    except ClientError as error:
        if unavailable(error):
            return None
        raise


def created_of(listed: dict[str, dict[str, str]] | None,
               new: Callable[[], str | None] = created_now) -> str | None:
    """The creation time a deploy of the scope whose resources are `listed` tags with: the
    one its live resources carry, `new()` for a scope with nothing here yet (now, or the time
    its OSCAR services carry); None (no such tag) for a scope deployed before scar-ci tagged
    creation times, so that neither its plan nor a drift check shows every resource changing,
    and when the tagging API is not available to us."""
    if listed is None:
        return None
    if not listed:
        return new()
    return min((tags[TAG_CREATED] for tags in listed.values() if TAG_CREATED in tags),
               default=None)
