"""The Resource contract: what every deployable resource offers the deploy core.

A resource compares as a flat mapping of settings: `wanted()` from the FDL and the scope,
`read(aws)` from the cloud (None when it does not exist; reads only). Before any read, the
build stage runs `prepare(aws)` once (an image's layers and content tag, a registry login).
The planner turns the difference into a create, an update (with the changed settings as
detail) or a keep, hands what `read` found to `found(live)`, and orders the changes by
`depends_on()`: the (kind, name) keys of the resources this one needs to exist first. Each
room's `discover_*` finds the live resources of a scope for the sweeper, whatever the FDL says
today (docs/deploy.md, "The Resource contract").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from botocore.exceptions import ClientError

from scar_ci.aws.errors import error_code, is_not_found
from scar_ci.aws.parallel import parallel_map
from scar_ci.errors import UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_KIND, TAG_MANAGED, TAG_SCOPE, TAG_SOURCE, same_identity

if TYPE_CHECKING:
    from scar_ci.aws.session import Aws

Settings = Mapping[str, Any]
Key = tuple[str, str]  # (kind, name): a resource's identity within a plan
SHORT_VALUE = 40
T = TypeVar("T")


class ForeignResource(UserError):
    """A resource scar-ci would create exists already and belongs to someone else."""


class Resource(ABC):
    """One resource scar-ci manages."""

    kind: ClassVar[str]
    # whether the resources that depend on this one also wait for the wait its create
    # returns (False: they accept it unsettled, and the wait runs once nothing else is left)
    dependents_wait: ClassVar[bool] = True
    name: str
    tags: Mapping[str, str] = MappingProxyType({})  # scar-ci's tags, where the kind has tags

    @abstractmethod
    def wanted(self) -> Settings:
        """The settings scar-ci wants, comparable with `read`'s."""

    @abstractmethod
    def read(self, aws: Aws) -> Settings | None:
        """The live settings, or None when the resource does not exist."""

    @abstractmethod
    def create(self, aws: Aws) -> Callable[[], None] | None:
        """Create the resource with the wanted settings; may return a wait for it to settle,
        which the apply runs after the other changes (so independent waits overlap), and
        before its dependents start unless `dependents_wait` is False."""

    @abstractmethod
    def update(self, aws: Aws, live: Settings) -> None:
        """Bring the existing resource from `live` to the wanted settings."""

    @abstractmethod
    def delete(self, aws: Aws) -> None:
        """Remove the resource (no error when it is already gone)."""

    def depends_on(self) -> Iterable[Key]:
        """The keys of the resources that must exist before this one (and be deleted after
        it); keys of resources outside the plan are ignored."""
        return ()

    def prepare(self, aws: Aws) -> None:
        """The build stage: make what `read` compares and `create` sends (once, before any
        read); most resources have nothing to build."""
        return None

    def found(self, live: Settings) -> None:
        """Take what `read` found that resources applied later name (a layer version's ARN,
        an image's digest, an API's id); the planner calls it for every live resource."""
        return None

    def describe(self) -> str:
        """Detail of a `create` line in the plan."""
        return ""

    def kept_detail(self) -> str:
        """Detail of a `keep` line in the plan."""
        return "unchanged"

    def kept_because(self, aws: Aws, delete_data: bool) -> str | None:
        """Why a resource the sweeper found must stay (e.g. it holds data), or None."""
        return None

    @property
    def key(self) -> Key:
        """Identity within a plan."""
        return self.kind, self.name

    def duplicates(self, wanted: Resource) -> bool:
        """True when this live resource has `wanted`'s key but is another one (two REST APIs
        of one name, left by runs that raced before the scope lock): the sweeper deletes it."""
        return False

    def describe_identity(self) -> str:
        """This resource among others of its name, for a duplicate's delete line."""
        return f"{self.kind} {self.name}"


def differences(wanted: Settings, live: Settings, prefix: str = "") -> list[str]:
    """`memory 512 -> 2048`-style phrases (live -> wanted) for every setting that differs;
    settings that are mappings (variables, tags) are compared key by key, so a long one
    names the keys that differ (`Environment.Variables.MODE fast -> slow`)."""
    phrases = []
    keys = list(wanted) + [k for k in live if k not in wanted] * bool(prefix)
    for setting in keys:
        value, was = wanted.get(setting), live.get(setting)
        if was == value:
            continue
        name = f"{prefix}{setting}"
        if len(repr(was)) + len(repr(value)) <= SHORT_VALUE:
            phrases.append(f"{name} {_shown(was)} -> {_shown(value)}")
        elif isinstance(value, Mapping) and isinstance(was, Mapping):
            phrases.extend(differences(value, was, f"{name}."))
        else:
            phrases.append(f"{name} changed")
    return phrases


def _shown(value: Any) -> str:
    if value is None or value == "" or value == () or value == []:
        return "(none)"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def may_belong(scope: Scope, name: str) -> bool:
    """Cheap name test before reading tags: scoped names end with `--<stage>`."""
    return scope.is_production or name.endswith(f"--{scope.stage}")


def owned(scope: Scope, tags: Mapping[str, str] | None) -> bool:
    """True when `tags` mark a resource as this scope's."""
    return bool(tags) and tags.get(TAG_MANAGED) == "true" and scope.owns(tags)


def owned_of(scope: Scope, candidates: Iterable[T],
             read_tags: Callable[[T], Mapping[str, str] | None]
             ) -> Iterator[tuple[T, Mapping[str, str]]]:
    """Each of `candidates` whose tags, read side by side (`parallel_map`), mark it as the
    scope's, with its tags, in the candidates' order."""
    candidates = list(candidates)
    for candidate, tags in zip(candidates, parallel_map(read_tags, candidates), strict=True):
        if owned(scope, tags):
            yield candidate, tags or {}


def ensure_ours(resource: Resource, live_tags: Mapping[str, str] | None,
                wanted_tags: Mapping[str, str]) -> None:
    """Refuse to change a live resource that another tool, scope or repository owns."""
    live_tags = live_tags or {}
    if live_tags.get(TAG_MANAGED) != "true":
        raise ForeignResource(
            f"{resource.kind} {resource.name} exists but was not deployed by scar-ci; "
            "scar-ci leaves it alone: remove it, or rename the function in the FDL")
    for tag in (TAG_SCOPE, TAG_SOURCE):
        if live_tags.get(tag) != wanted_tags.get(tag):
            raise ForeignResource(
                f"{resource.kind} {resource.name} belongs to {tag.partition(':')[2]} "
                f"'{live_tags.get(tag)}', not '{wanted_tags.get(tag)}'; scar-ci leaves it alone")
    if not same_identity(wanted_tags, live_tags):
        raise ForeignResource(
            f"{resource.kind} {resource.name} belongs to another {live_tags.get(TAG_KIND)} "
            f"whose stage name is also '{wanted_tags.get(TAG_SCOPE)}' (their hashes collide); "
            "scar-ci leaves it alone: deploy this one with --scope manual:<a label of yours>")


def absent_ok(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Run an AWS call; a not-found answer gives None instead of an error."""
    try:
        return call(**kwargs)
    except Exception as error:
        if is_not_found(error):
            return None
        raise


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under `key` across the pages of `operation`."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, ())


def unavailable(error: ClientError) -> bool:
    """The service is not there for us: an endpoint without it (LocalStack's community edition
    answers 501 for ECR), or credentials without its rights (they cannot have made any of its
    resources either), so a teardown finds nothing there instead of failing."""
    return (error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 501
            or error_code(error) in ("AccessDeniedException", "AccessDenied"))
