"""A plan: the changes that bring live resources to the desired state, in an order their
dependencies allow, each naming the changes it waits for; and its rendering."""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING

from scar_ci.aws.parallel import parallel_map

if TYPE_CHECKING:
    from scar_ci.aws.resource import Key, Resource, Settings
    from scar_ci.aws.session import Aws


class Verb(StrEnum):
    """What a change does to one resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    KEEP = "keep"


SYMBOLS = {Verb.CREATE: "+", Verb.UPDATE: "~", Verb.DELETE: "-", Verb.KEEP: "="}
PAST = {Verb.CREATE: "created", Verb.UPDATE: "updated", Verb.DELETE: "deleted",
        Verb.KEEP: "unchanged"}
# How a plan reads where the dependencies leave the order open (never against them).
READING_ORDER = ("role", "log group", "secret", "bucket", "layer", "repository", "image",
                 "job image", "compute env", "job queue", "job definition", "function",
                 "trigger", "api", "service")


class DependencyCycle(RuntimeError):
    """Resources that need each other: a defect of the desired state, not of the input."""


@dataclass(frozen=True)
class Change:
    """One planned change: `verb` on resource `kind` named `name`, with the reason in `detail`.

    `apply` performs it (None for `keep`); `needs` are the positions in the plan of the
    changes that must be done first; `dependents_wait`: the changes that need this one wait
    for the wait its `apply` may return, too (the resource's `dependents_wait`). None is
    part of the plan's rendering.
    """

    verb: Verb
    kind: str
    name: str
    detail: str = ""
    apply: Callable[[], object] | None = field(default=None, compare=False, repr=False)
    needs: tuple[int, ...] = field(default=(), compare=False, repr=False)
    dependents_wait: bool = field(default=True, compare=False, repr=False)

    @property
    def key(self) -> Key:
        return self.kind, self.name

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"action": self.verb.value, "kind": self.kind, "name": self.name,
                "detail": self.detail}


@dataclass(frozen=True)
class Plan:
    """The changes for one scope, in the order they must be applied."""

    scope: str
    changes: tuple[Change, ...]

    @property
    def mutating(self) -> tuple[Change, ...]:
        """The changes that call AWS (everything but keep)."""
        return tuple(c for c in self.changes if c.verb is not Verb.KEEP)

    def summary(self) -> str:
        """`3 to create, 1 to update, 1 to delete, 1 unchanged.`"""
        n = Counter(c.verb for c in self.changes)
        return (f"{n[Verb.CREATE]} to create, {n[Verb.UPDATE]} to update, "
                f"{n[Verb.DELETE]} to delete, {n[Verb.KEEP]} unchanged.")

    def render(self) -> str:
        """The human table shown by `scar-ci plan`."""
        kind_width = max((len(c.kind) for c in self.changes), default=0)
        name_width = max((len(c.name) for c in self.changes), default=0)
        lines = [self.scope]
        for c in self.changes:
            row = f"  {SYMBOLS[c.verb]} {c.verb.value:<7} {c.kind:<{kind_width}}  {c.name}"
            if c.detail:
                row = f"{row:<{14 + kind_width + name_width}}  {c.detail}"
            lines.append(row.rstrip())
        lines.append(self.summary())
        return "\n".join(lines)

    def to_json(self) -> str:
        """The plan as JSON (`scar-ci plan --json`, the action's `plan` output)."""
        return json.dumps({"scope": self.scope, "changes": [c.to_dict() for c in self.changes],
                           "summary": self.summary()}, indent=2)


def make_plan(header: str, desired: Sequence[Resource], found: Iterable[Resource], aws: Aws,
              *, delete_data: bool = False, reason: str = "no longer in the FDL") -> Plan:
    """Diff `desired` against the cloud; sweep what `found` has beyond it.

    The reads run side by side (they only read); then, in order, each resource takes what
    its read found and is diffed. Creates and updates come first, in dependency order (what a
    resource `depends_on` before it); then the deletes, in the reverse order (APIs and
    triggers before their functions, a job queue before its compute environment), each
    waiting for every create and update.
    """
    resources = ordered(desired)
    lives = parallel_map(lambda resource: resource.read(aws), resources)
    changes = [_diffed(resource, live, aws) for resource, live in zip(resources, lives,
                                                                       strict=True)]
    wanted = {r.key: r for r in desired}
    stale = ordered([r for r in found if r.key not in wanted or r.duplicates(wanted[r.key])],
                    reverse=True)
    for resource in stale:
        kept = resource.kept_because(aws, delete_data)
        if kept:
            changes.append(Change(Verb.KEEP, resource.kind, resource.name, kept))
        else:
            why = (f"a duplicate of {wanted[resource.key].describe_identity()}"
                   if resource.key in wanted else reason)
            changes.append(Change(Verb.DELETE, resource.kind, resource.name, f"({why})",
                                  partial(resource.delete, aws)))
    return Plan(header, tuple(_with_needs(changes, [*resources, *stale], len(resources))))


def _diffed(resource: Resource, live: Settings | None, aws: Aws) -> Change:
    """The create, update or keep that brings `resource` from `live` to what it wants."""
    from scar_ci.aws.resource import differences

    if live is None:
        return Change(Verb.CREATE, resource.kind, resource.name, resource.describe(),
                      partial(resource.create, aws), dependents_wait=resource.dependents_wait)
    resource.found(live)
    changed = differences(resource.wanted(), live)
    if changed:
        return Change(Verb.UPDATE, resource.kind, resource.name, ", ".join(changed),
                      partial(resource.update, aws, live))
    return Change(Verb.KEEP, resource.kind, resource.name, resource.kept_detail())


def _with_needs(changes: list[Change], resources: Sequence[Resource], applied: int
                ) -> list[Change]:
    """`changes` (of `resources`, the first `applied` of them desired, the rest swept), each
    with the positions of the changes it waits for."""
    edges = _edges(resources[:applied])
    swept = [[applied + j for j in need] for need in _edges(resources[applied:], reverse=True)]
    before_sweep = tuple(i for i in range(applied) if changes[i].verb is not Verb.KEEP)
    return [replace(c, needs=tuple(sorted(edges[i])) if i < applied
                    else (*before_sweep, *sorted(swept[i - applied])))
            for i, c in enumerate(changes)]


def _edges(resources: Sequence[Resource], *, reverse: bool = False) -> list[set[int]]:
    """For each resource, the positions of those it waits for: what it depends on, or with
    `reverse` (deleting) the ones that depend on it."""
    at: dict[Key, list[int]] = defaultdict(list)
    for i, resource in enumerate(resources):
        at[resource.key].append(i)
    edges: list[set[int]] = [set() for _ in resources]
    for i, resource in enumerate(resources):
        for key in resource.depends_on():
            for j in at.get(key, ()):
                if j != i:
                    (edges[j] if reverse else edges[i]).add(i if reverse else j)
    return edges


def ordered(resources: Sequence[Resource], *, reverse: bool = False) -> list[Resource]:
    """`resources` sorted by their dependencies (with `reverse`, dependents first); where
    those leave the order open, by READING_ORDER of their kinds, then as given."""
    edges = _edges(resources, reverse=reverse)
    waiting = [len(e) for e in edges]
    unblocks: dict[int, list[int]] = defaultdict(list)
    for i, needed in enumerate(edges):
        for j in needed:
            unblocks[j].append(i)

    def rank(i: int) -> tuple[int, int]:
        kind = resources[i].kind
        place = READING_ORDER.index(kind) if kind in READING_ORDER else len(READING_ORDER)
        return (-place if reverse else place), i

    ready = [rank(i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    result: list[Resource] = []
    while ready:
        _, i = heapq.heappop(ready)
        result.append(resources[i])
        for j in unblocks[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, rank(j))
    if len(result) != len(resources):
        cycle = sorted({f"{r.kind} {r.name}" for r in resources if r not in result})
        raise DependencyCycle(f"resources that depend on each other: {', '.join(cycle)}")
    return result
