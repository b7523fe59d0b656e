"""`prune`: tear down the previews nobody needs any more, found by tag, judged by GitHub.

A preview goes when its pull request is closed or merged, when its branch is gone, or when it
is older than `older_than`. Production and release tags stay unless named; scopes deployed
from another repository always stay. Each verdict says why, removed or kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from scar_ci.aws.inventory import DeployedScope, deployed_scopes, merged
from scar_ci.aws.session import Aws
from scar_ci.deploy.plan import Plan
from scar_ci.errors import UsageError
from scar_ci.github.api import DEFAULT_API_URL
from scar_ci.github.origins import Origins, PullState
from scar_ci.scopes.scope import ScopeKind, created_at

if TYPE_CHECKING:
    from scar_ci.oscar.clusters import Oscar

_AGE = re.compile(r"([1-9][0-9]{0,4})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
PREVIEWS = (ScopeKind.PR, ScopeKind.BRANCH)
PROTECTED = {ScopeKind.PRODUCTION: "production", ScopeKind.TAG: "a release tag"}


def parse_age(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w` as a duration; UsageError otherwise."""
    found = _AGE.fullmatch(text.strip())
    if not found:
        raise UsageError(f"--older-than '{text[:40]}': give a whole number and a unit: "
                         "30m, 12h, 7d or 2w")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def shown_age(age: timedelta) -> str:
    """`3d 4h`, `12d`, `5h 12m`, `40m`: the largest unit and the next one."""
    minutes = int(age.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


@dataclass(frozen=True)
class Rules:
    """What a prune removes: for `repository` (None: scopes deployed outside GitHub), asking
    `origins` (None: no token, age only), older than `older_than`, `named` scopes included."""

    repository: str | None
    origins: Origins | None = None
    older_than: timedelta | None = None
    named: frozenset[str] = frozenset()
    now: datetime | None = None

    def check(self) -> None:
        if self.origins is None and self.older_than is None:
            raise UsageError("prune asks GitHub which pull requests are closed and which "
                             "branches are gone: it needs a token ($GITHUB_TOKEN, or the "
                             "action's github-token) and the repository ($GITHUB_REPOSITORY "
                             "or --repository); without them, prune by age only: "
                             "--older-than 7d")


@dataclass(frozen=True)
class Verdict:
    """One scope: removed or kept, and why."""

    found: DeployedScope
    remove: bool
    why: str
    age: timedelta | None = None

    def to_dict(self) -> dict[str, object]:
        scope = self.found.scope
        return {"scope": scope.label, "kind": scope.kind.value, "ref": scope.ident,
                "repository": scope.source, "created": scope.created,
                "action": "remove" if self.remove else "keep", "why": self.why,
                "functions": sorted(self.found.functions),
                "services": sorted(self.found.services)}


def rules_from(env: Mapping[str, str], *, repository: str | None, token: str,
               older_than: str | None, named: list[str]) -> Rules:
    """The prune's rules; GitHub is asked (at $GITHUB_API_URL) only with a token and a
    repository."""
    origins = None
    if token and repository:
        origins = Origins(repository, token, env.get("GITHUB_API_URL") or DEFAULT_API_URL)
    rules = Rules(repository, origins, parse_age(older_than) if older_than else None,
                  frozenset(named))
    rules.check()
    return rules


def judge(found: DeployedScope, rules: Rules, others: Iterable[DeployedScope] = ()) -> Verdict:
    """The verdict on one scope; `others` are the scopes found beside it."""
    scope = found.scope
    now = rules.now or datetime.now(UTC)
    created = created_at(scope)
    age = now - created if created else None

    def verdict(remove: bool, why: str) -> Verdict:
        return Verdict(found, remove, why, age)

    if scope.source != rules.repository:
        return verdict(False, f"deployed from {scope.source}" if scope.source else
                       "deployed outside GitHub (no repository tag); prune without a "
                       "repository to judge those")
    if scope.kind in PROTECTED and scope.label not in rules.named:
        return verdict(False, f"{PROTECTED[scope.kind]}: never pruned unless named "
                              f"(--include {scope.label})")
    if scope.source is None and any(o.scope.label == scope.label and o.scope.source
                                    for o in others):
        return verdict(False, "shares its stage with another repository's scope; tear it "
                              "down by hand")
    reasons = []
    if rules.origins is not None and scope.kind is ScopeKind.PR and scope.ident:
        state = rules.origins.pull_request(int(scope.ident))
        if state is not PullState.OPEN:
            return verdict(True, f"pull request #{scope.ident} is {state.value}"
                           if state is not PullState.MISSING else
                           f"pull request #{scope.ident} does not exist")
        reasons.append(f"pull request #{scope.ident} is open")
    elif rules.origins is not None and scope.kind is ScopeKind.BRANCH:
        if scope.ident is None:
            reasons.append("its branch name cannot be read back from its tags")
        elif not rules.origins.branch_exists(scope.ident):
            return verdict(True, f"{scope.origin} no longer exists")
        else:
            reasons.append(f"{scope.origin} exists")
    elif scope.kind in PREVIEWS:
        reasons.append("not asked to GitHub (no token)")
    if rules.older_than is not None:
        if age is None:
            reasons.append("its age is unknown (deployed before scar-ci tagged creation "
                           "times)")
        elif age > rules.older_than:
            return verdict(True, f"created {shown_age(age)} ago, older than "
                                 f"{shown_age(rules.older_than)}")
        else:
            reasons.append(f"created {shown_age(age)} ago")
    return verdict(False, "; ".join(reasons) or "nothing says it is abandoned")


def judge_all(aws: Aws, rules: Rules, oscar: Oscar | None = None) -> list[Verdict]:
    """Every scope deployed here (one tag pass) and on the OSCAR clusters `oscar` knows (one
    listing each), judged."""
    rules.check()
    found = merged(deployed_scopes(aws), oscar.scopes() if oscar else [])
    return [judge(one, rules, found) for one in found]


def delete_data(verdict: Verdict, setting: str) -> bool:
    """Whether a teardown deletes buckets holding others' objects: previews (pull requests,
    branches) by default, every scope with `true`, none with `false`."""
    return {"true": True, "false": False}.get(setting, verdict.found.scope.kind in PREVIEWS)


def prune(aws: Aws, verdicts: Iterable[Verdict], *, dry_run: bool, data: str = "previews",
          say: Callable[[str], None] = print, oscar: Oscar | None = None
          ) -> list[tuple[Verdict, Plan]]:
    """Plan the teardown of every scope to remove (reads only; on AWS and the OSCAR clusters
    `oscar` knows) and, unless `dry_run`, apply it; the plans, in order."""
    from scar_ci.deploy.engine import apply_said, plan_teardown

    done = []
    for verdict in (v for v in verdicts if v.remove):
        started = time.monotonic()
        plan = plan_teardown(verdict.found.scope, aws,
                             delete_data=delete_data(verdict, data), oscar=oscar)
        say(f"{verdict.found.scope.label}: {verdict.why}")
        if dry_run:
            say(plan.render())
        else:
            apply_said(plan, "prune", say, started)
        done.append((verdict, plan))
    return done
