"""Applying a plan along its dependencies, on in-memory resources: independent changes run
side by side, a change waits for what it needs (and for its waits), progress lines keep the
plan's order, a failure stops new work and says what was done, failed and not attempted."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError

from scar_ci.aws.resource import Resource
from scar_ci.aws.session import CONCURRENCY_VARIABLE, concurrency
from scar_ci.deploy.apply import ApplyFailed, apply_plan
from scar_ci.deploy.engine import apply_said
from scar_ci.deploy.plan import make_plan
from scar_ci.errors import UsageError


@dataclass
class Cloud:
    """The account: what exists, what happened in which order, how many ran at once."""

    live: set[tuple[str, str]] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    running: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def act(self, what: str, seconds: float) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(seconds)
        with self.lock:
            self.running -= 1
            self.log.append(what)


@dataclass
class Thing(Resource):
    cloud: Cloud
    kind: str  # type: ignore[misc]
    name: str
    needs: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.05
    fails: bool = False
    settles: float = 0.0  # a wait returned by create

    def depends_on(self):
        return self.needs

    def wanted(self):
        return {}

    def read(self, aws):
        return {} if self.key in self.cloud.live else None

    def create(self, aws):
        if self.fails:
            raise ClientError({"Error": {"Code": "Injected", "Message": "no"}}, "Create")
        self.cloud.act(f"create {self.name}", self.seconds)
        self.cloud.live.add(self.key)
        if self.settles:
            return lambda: self.cloud.act(f"settled {self.name}", self.settles)
        return None

    def update(self, aws, live):
        raise AssertionError("nothing changes")

    def delete(self, aws):
        self.cloud.act(f"delete {self.name}", self.seconds)
        self.cloud.live.discard(self.key)


def test_independent_changes_run_side_by_side_and_dependents_wait() -> None:
    cloud = Cloud()
    roles = [Thing(cloud, "role", f"r{i}") for i in range(4)]
    functions = [Thing(cloud, "function", f"f{i}", (("role", f"r{i}"),), settles=0.1)
                 for i in range(4)]
    triggers = [Thing(cloud, "trigger", f"t{i}", (("function", f"f{i}"),)) for i in range(4)]
    plan = make_plan("s", [*triggers, *functions, *roles], [], aws=None)
    lines: list[str] = []

    done = apply_plan(plan, "deploy", lines.append, workers=8)

    assert len(done) == 12 and cloud.most >= 4
    for i in range(4):
        order = cloud.log.index
        assert order(f"create r{i}") < order(f"create f{i}") < order(f"settled f{i}") < order(
            f"create t{i}")
    assert [line.split(" (")[0] for line in lines] == [
        *(f"  created role r{i}" for i in range(4)),
        *(f"  created function f{i}" for i in range(4)),
        *(f"  created trigger t{i}" for i in range(4))]


@dataclass
class UsablePending(Thing):
    """A resource its dependents accept unsettled (a Lambda function while Pending)."""

    dependents_wait = False


def test_waits_no_dependent_needs_run_once_everything_else_is_done() -> None:
    cloud = Cloud()
    functions = [UsablePending(cloud, "function", f"f{i}", settles=0.05) for i in range(3)]
    triggers = [Thing(cloud, "trigger", f"t{i}", (("function", f"f{i}"),), seconds=0.02)
                for i in range(3)]
    done = apply_plan(make_plan("s", [*functions, *triggers], [], aws=None), "deploy",
                      lambda _: None, workers=4)
    assert len(done) == 6
    assert {line.split()[0] for line in cloud.log[:6]} == {"create"}  # then the waits
    assert sorted(cloud.log[6:]) == [f"settled f{i}" for i in range(3)]


def test_one_worker_makes_every_ready_change_before_it_waits() -> None:
    cloud = Cloud()
    functions = [Thing(cloud, "function", f"f{i}", settles=0.01) for i in range(3)]
    apply_plan(make_plan("s", functions, [], aws=None), "deploy", lambda _: None, workers=1)
    assert cloud.log == ["create f0", "create f1", "create f2",
                         "settled f0", "settled f1", "settled f2"]
    assert cloud.most == 1


def test_a_failure_stops_new_work_and_says_what_was_done_failed_and_not_attempted() -> None:
    cloud = Cloud()
    desired = [Thing(cloud, "role", "slow", seconds=0.2), Thing(cloud, "role", "bad", fails=True),
               Thing(cloud, "function", "f", (("role", "slow"),)),
               Thing(cloud, "function", "g", (("role", "bad"),))]
    plan = make_plan("s", desired, [], aws=None)

    with pytest.raises(ApplyFailed) as failed:
        apply_plan(plan, "deploy", lambda _: None, workers=4)

    assert cloud.log == ["create slow"]  # the running one finished, nothing new started
    message = str(failed.value)
    assert "create role bad failed: An error occurred (Injected)" in message
    assert "Done before it: created role slow. Not attempted: 2 change(s)." in message
    assert [c.name for c in failed.value.done] == ["slow"]


def test_deletes_run_the_graph_backwards_after_every_create() -> None:
    cloud = Cloud(live={("role", "old"), ("function", "old"), ("trigger", "old")})
    found = [Thing(cloud, "role", "old"), Thing(cloud, "function", "old", (("role", "old"),)),
             Thing(cloud, "trigger", "old", (("function", "old"),))]
    plan = make_plan("s", [Thing(cloud, "role", "new")], found, aws=None)
    apply_plan(plan, "deploy", lambda _: None, workers=8)
    assert cloud.log == ["create new", "delete old", "delete old", "delete old"]
    assert [c.kind for c in plan.changes] == ["role", "trigger", "function", "role"]


def test_the_concurrency_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONCURRENCY_VARIABLE, raising=False)
    assert concurrency() == 16
    monkeypatch.setenv(CONCURRENCY_VARIABLE, "3")
    assert concurrency() == 3
    monkeypatch.setenv(CONCURRENCY_VARIABLE, "many")
    with pytest.raises(UsageError, match="SCAR_CI_CONCURRENCY='many': give a whole number"):
        concurrency()


def test_services_with_low_request_limits_get_a_cap() -> None:
    cloud = Cloud()
    apis = [Thing(cloud, "api", f"a{i}") for i in range(5)]
    apply_plan(make_plan("s", apis, [], aws=None), "deploy", lambda _: None, workers=8)
    assert len(cloud.log) == 5 and cloud.most == 2  # API Gateway's management API: 2 at once


def test_what_is_done_counts_the_changes_applied_not_those_kept() -> None:
    cloud = Cloud(live={("role", "kept")})
    plan = make_plan("s", [Thing(cloud, "role", "kept"), Thing(cloud, "role", "new")], [],
                     aws=None)
    assert [c.name for c in apply_plan(plan, "deploy", lambda _: None)] == ["new"]


def test_a_plan_that_changes_nothing_says_none_applied_and_all_unchanged() -> None:
    cloud = Cloud(live={("role", f"r{i}") for i in range(7)})
    plan = make_plan("s", [Thing(cloud, "role", f"r{i}") for i in range(7)], [], aws=None)
    lines: list[str] = []
    apply_said(plan, "deploy", lines.append, time.monotonic())
    assert lines[-1].startswith("deploy: 0 change(s) applied, 7 unchanged or kept, in ")
    assert cloud.log == []


def test_the_outcome_line_counts_applied_changes_and_keeps_apart() -> None:
    cloud = Cloud(live={("role", "kept"), ("role", "old")})
    plan = make_plan("s", [Thing(cloud, "role", "kept"), Thing(cloud, "role", "new")],
                     [Thing(cloud, "role", "old")], aws=None)
    lines: list[str] = []
    apply_said(plan, "deploy", lines.append, time.monotonic())
    assert lines[-1].startswith("deploy: 2 change(s) applied, 1 unchanged or kept, in ")
