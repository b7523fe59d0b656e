"""Applying a plan: its changes in order, one progress line each; a failure says what exists.

A change may return a wait (a function becoming Active): waits of consecutive changes of one
kind run together before the next kind, so five new functions take one wait, not five.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from scar_ci.aws.errors import AWS_EXCEPTIONS
from scar_ci.deploy.plan import Change, Plan, Verb
from scar_ci.errors import UserError

PAST = {Verb.CREATE: "created", Verb.UPDATE: "updated", Verb.DELETE: "deleted"}


class ApplyFailed(UserError):
    """A change failed: what was done before it stays; the next run converges."""

    def __init__(self, plan: Plan, failed: Change, done: list[Change], error: Exception,
                 command: str) -> None:
        self.failed = failed
        self.done = done
        left = len(plan.mutating) - len(done) - 1
        finished = "; ".join(f"{PAST[c.verb]} {c.kind} {c.name}" for c in done) or "nothing"
        super().__init__(
            f"{command} stopped: {failed.verb.value} {failed.kind} {failed.name} failed: "
            f"{error}. Done before it: {finished}. Not attempted: {left} change(s). "
            f"Everything done stays in place; run `scar-ci {command}` again to finish.")


def apply_plan(plan: Plan, command: str, say: Callable[[str], None] = print) -> list[Change]:
    """Execute `plan`'s changes in order; returns those done, raises ApplyFailed on an error."""
    done: list[Change] = []
    settling: list[tuple[Change, Callable[[], object]]] = []
    for change in plan.mutating:
        if settling and settling[0][0].kind != change.kind:
            _settle(settling, plan, done, command)
        started = time.monotonic()
        try:
            assert change.apply is not None
            settle = change.apply()
        except (*AWS_EXCEPTIONS, UserError) as error:
            raise ApplyFailed(plan, change, done, error, command) from error
        if callable(settle):
            settling.append((change, settle))
        done.append(change)
        say(f"  {PAST[change.verb]} {change.kind} {change.name} "
            f"({time.monotonic() - started:.1f} s)")
    _settle(settling, plan, done, command)
    return done


def _settle(settling: list[tuple[Change, Callable[[], object]]], plan: Plan,
            done: list[Change], command: str) -> None:
    """Wait for resources of one kind created one after the other (their waits overlap);
    the next kind may depend on them (a trigger needs an Active function)."""
    for change, settle in settling:
        try:
            settle()
        except (*AWS_EXCEPTIONS, UserError) as error:
            raise ApplyFailed(plan, change, done[:done.index(change)], error, command) from error
    settling.clear()
