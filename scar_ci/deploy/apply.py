"""Applying a plan along its dependencies: a change starts once the changes it needs are done,
independent ones run side by side (at most `workers` at a time, fewer for services with low
request limits); one progress line per change, in the plan's order; a failure stops new work,
lets running calls finish and says what was done, what failed and what was not attempted.

A change may return a wait (a compute environment becoming VALID): it runs as its own step
once no change is ready to start, so waits of resources created together overlap, and the
changes that need the resource start after it. A change whose dependents accept it unsettled
(`Change.dependents_wait` False: a function is given its permissions, triggers and API while
Pending) lets them start at once, and its wait runs once no other change is running or ready,
so that by then it is mostly settled: one poll of each function becoming Active.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from scar_ci.aws.errors import AWS_EXCEPTIONS
from scar_ci.aws.session import concurrency
from scar_ci.deploy.plan import PAST, Change, Plan, Verb
from scar_ci.errors import UserError

FAILURES = (*AWS_EXCEPTIONS, UserError)
# Kinds whose service has low request limits (API Gateway's management API, IAM, an OSCAR
# cluster's one API server): at most this many of their changes run at once.
CAPS = {"apigateway": 2, "iam": 4, "oscar": 1}
SERVICE_OF = {"api": "apigateway", "role": "iam", "service": "oscar"}


class ApplyFailed(UserError):
    """A change failed: what was done stays; the next run converges."""

    def __init__(self, plan: Plan, failures: list[tuple[Change, Exception]],
                 done: list[Change], command: str) -> None:
        self.failed = failures[0][0]
        self.failures = failures
        self.done = done
        left = len(plan.mutating) - len(done) - len(failures)
        failed = "; ".join(f"{c.verb.value} {c.kind} {c.name} failed: {e}" for c, e in failures)
        finished = "; ".join(f"{PAST[c.verb]} {c.kind} {c.name}" for c in done) or "nothing"
        super().__init__(
            f"{command} stopped: {failed}. Done before it: {finished}. Not attempted: {left} "
            f"change(s). Everything done stays in place; run `scar-ci {command}` again to "
            "finish.")


@dataclass
class _Run:
    """The state of one apply: which changes are done, running, failed; what was said."""

    changes: tuple[Change, ...]
    say: Callable[[str], None]
    done: set[int] = field(default_factory=set)  # applied (and settled, when it had a wait)
    applied: dict[int, float] = field(default_factory=dict)  # position -> seconds
    settling: dict[int, Callable[[], object]] = field(default_factory=dict)
    failures: list[tuple[int, Exception]] = field(default_factory=list)
    started: set[int] = field(default_factory=set)
    said: int = 0  # the next position whose progress line is due

    def usable(self, position: int) -> bool:
        """Whether the changes that need this one may start: it is done, or applied and its
        dependents accept it unsettled (`Change.dependents_wait` False)."""
        return position in self.done or (position in self.applied
                                         and not self.changes[position].dependents_wait)

    def ready(self) -> list[int]:
        """Changes not started whose needs are all usable, in plan order."""
        return [i for i, c in enumerate(self.changes) if i not in self.started
                and c.verb is not Verb.KEEP and all(self.usable(n) for n in c.needs)]

    def say_due(self, *, last: bool = False) -> None:
        """Progress lines of the applied changes in plan order, as far as all before them are
        applied (`last`: all of them, the apply being over)."""
        while self.said < len(self.changes):
            change = self.changes[self.said]
            if change.verb is not Verb.KEEP and self.said in self.applied:
                self.say(f"  {PAST[change.verb]} {change.kind} {change.name} "
                         f"({self.applied[self.said]:.1f} s)")
            elif change.verb is not Verb.KEEP and not last:
                return
            self.said += 1


def apply_plan(plan: Plan, command: str, say: Callable[[str], None] = print,
               workers: int | None = None) -> list[Change]:
    """Execute `plan`'s changes along their needs, at most `workers` (else `concurrency()`)
    at once; returns those done, in plan order; raises ApplyFailed once the running ones have
    finished when any failed."""
    workers = workers or concurrency()
    run = _Run(plan.changes, say)
    run.done.update(i for i, c in enumerate(plan.changes) if c.verb is Verb.KEEP)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        running: dict[Future[object], tuple[int, bool]] = {}
        while True:
            if not run.failures:
                _start(run, pool, running, max(1, workers))
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                position, is_wait = running.pop(future)
                _finish(run, position, is_wait, future)
            run.say_due()
    run.say_due(last=True)
    if run.failures:
        failures = [(plan.changes[i], e) for i, e in sorted(run.failures, key=lambda f: f[0])]
        raise ApplyFailed(plan, failures, _in_order(plan, run.applied.keys() - {
            i for i, _ in run.failures}), command)
    return _in_order(plan, run.done - {i for i, c in enumerate(plan.changes)
                                       if c.verb is Verb.KEEP})


def _start(run: _Run, pool: ThreadPoolExecutor, running: dict[Future[object], tuple[int, bool]],
           workers: int) -> None:
    """Start ready changes while workers are free (and their service's cap allows), then
    waits (so one worker makes every ready change before it waits); the waits no dependent
    needs once no other change is running or ready."""
    busy = Counter(SERVICE_OF.get(run.changes[p].kind) for p, is_wait in running.values()
                   if not is_wait)
    ready = run.ready()
    for position in ready:
        if len(running) >= workers:
            return
        service = SERVICE_OF.get(run.changes[position].kind)
        if service in CAPS and busy[service] >= CAPS[service]:
            continue
        busy[service] += 1
        run.started.add(position)
        running[pool.submit(_timed, run.changes[position])] = (position, False)
    last = not ready and not any(not is_wait for _, is_wait in running.values())
    for position, settle in list(run.settling.items()):
        if len(running) >= workers:
            return
        if run.changes[position].dependents_wait or last:
            del run.settling[position]
            running[pool.submit(settle)] = (position, True)


def _timed(change: Change) -> tuple[object, float]:
    if change.apply is None:
        raise RuntimeError(f"{change.verb.value} {change.kind} {change.name} has nothing to apply")
    began = time.monotonic()
    return change.apply(), time.monotonic() - began


def _finish(run: _Run, position: int, is_wait: bool, future: Future[object]) -> None:
    error = future.exception()
    if error is not None:
        if not isinstance(error, FAILURES):
            raise error
        run.failures.append((position, error))
        return
    if is_wait:
        run.done.add(position)
        return
    settle, seconds = future.result()  # type: ignore[misc]
    run.applied[position] = seconds
    if callable(settle):
        run.settling[position] = settle
    else:
        run.done.add(position)


def _in_order(plan: Plan, positions: Iterable[int]) -> list[Change]:
    chosen = set(positions)
    return [c for i, c in enumerate(plan.changes) if i in chosen]
