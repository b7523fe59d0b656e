"""A plan: the ordered changes that bring live resources to the desired state, and its rendering."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scar_ci.aws.resource import Resource
    from scar_ci.aws.session import Aws


class Verb(StrEnum):
    """What a change does to one resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    KEEP = "keep"


SYMBOLS = {Verb.CREATE: "+", Verb.UPDATE: "~", Verb.DELETE: "-", Verb.KEEP: "="}


@dataclass(frozen=True)
class Change:
    """One planned change: `verb` on resource `kind` named `name`, with the reason in `detail`.

    `apply` performs it (None for `keep`); it is not part of the plan's rendering.
    """

    verb: Verb
    kind: str
    name: str
    detail: str = ""
    apply: Callable[[], object] | None = field(default=None, compare=False, repr=False)

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
    """Diff `desired` (in apply order) against the cloud; sweep what `found` has beyond it.

    Deletes come after every create and update, in the reverse order of kinds (APIs and
    triggers before functions, functions before buckets and roles).
    """
    from scar_ci.aws.resource import differences
    from scar_ci.deploy.desired import KIND_ORDER

    changes = []
    for resource in desired:
        live = resource.read(aws)
        if live is None:
            changes.append(Change(Verb.CREATE, resource.kind, resource.name, resource.describe(),
                                  partial(resource.create, aws)))
            continue
        changed = differences(resource.wanted(), live)
        if changed:
            changes.append(Change(Verb.UPDATE, resource.kind, resource.name, ", ".join(changed),
                                  partial(resource.update, aws, live)))
        else:
            changes.append(Change(Verb.KEEP, resource.kind, resource.name,
                                  resource.kept_detail()))
    wanted = {r.key: r for r in desired}
    stale = sorted((r for r in found if r.key not in wanted or r.duplicates(wanted[r.key])),
                   key=lambda r: -KIND_ORDER.index(r.kind))
    for resource in stale:
        kept = resource.kept_because(aws, delete_data)
        if kept:
            changes.append(Change(Verb.KEEP, resource.kind, resource.name, kept))
        else:
            why = (f"a duplicate of {wanted[resource.key].describe_identity()}"
                   if resource.key in wanted else reason)
            changes.append(Change(Verb.DELETE, resource.kind, resource.name, f"({why})",
                                  partial(resource.delete, aws)))
    return Plan(header, tuple(changes))
