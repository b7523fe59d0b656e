"""The planner and the plan's rendering, on in-memory resources (the AWS side is tested
against LocalStack in tests/integration/test_deploy*.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from scar_ci.aws.resource import Resource, differences
from scar_ci.deploy.plan import Change, Plan, Verb, make_plan


@dataclass
class Cloud:
    """A dictionary standing for the account: (kind, name) -> settings."""

    live: dict[tuple[str, str], dict] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


@dataclass
class Thing(Resource):
    cloud: Cloud
    kind: str  # type: ignore[misc]
    name: str
    settings: dict = field(default_factory=dict)
    data: bool = False

    def wanted(self):
        return self.settings

    def read(self, aws):
        return self.cloud.live.get(self.key)

    def create(self, aws):
        self.cloud.log.append(f"create {self.name}")
        self.cloud.live[self.key] = dict(self.settings)

    def update(self, aws, live):
        self.cloud.log.append(f"update {self.name}")
        self.cloud.live[self.key] = dict(self.settings)

    def delete(self, aws):
        self.cloud.log.append(f"delete {self.name}")
        del self.cloud.live[self.key]

    def kept_because(self, aws, delete_data):
        return None if delete_data or not self.data else "holds data"


def apply(plan: Plan) -> None:
    for change in plan.mutating:
        change.apply()


def test_create_update_keep_and_sweep_in_dependency_order():
    cloud = Cloud({("function", "a"): {"memory": 512}, ("function", "b"): {"memory": 128},
                   ("role", "old"): {}, ("api", "old"): {}, ("bucket", "full"): {}})
    desired = [Thing(cloud, "role", "r"), Thing(cloud, "function", "a", {"memory": 2048}),
               Thing(cloud, "function", "b", {"memory": 128})]
    found = [Thing(cloud, "role", "old"), Thing(cloud, "function", "b"),
             Thing(cloud, "api", "old"), Thing(cloud, "bucket", "full", data=True)]

    plan = make_plan("scope pr-1", desired, found, aws=None)

    assert [(c.verb, c.kind, c.name) for c in plan.changes] == [
        (Verb.CREATE, "role", "r"), (Verb.UPDATE, "function", "a"),
        (Verb.KEEP, "function", "b"), (Verb.DELETE, "api", "old"),
        (Verb.KEEP, "bucket", "full"), (Verb.DELETE, "role", "old")]
    assert plan.changes[1].detail == "memory 512 -> 2048"
    assert plan.changes[4].detail == "holds data"
    apply(plan)
    assert cloud.log == ["create r", "update a", "delete old", "delete old"]
    assert make_plan("again", desired, [], aws=None).mutating == ()


def test_delete_data_lets_the_sweeper_remove_a_bucket_with_data():
    cloud = Cloud({("bucket", "full"): {}})
    plan = make_plan("t", [], [Thing(cloud, "bucket", "full", data=True)], aws=None,
                     delete_data=True, reason="teardown")
    assert [(c.verb, c.detail) for c in plan.changes] == [(Verb.DELETE, "(teardown)")]


def test_differences_are_short_phrases():
    assert differences({"memory": 2048, "layers": ["x"]}, {"memory": 512, "layers": []}) == [
        "memory 512 -> 2048", "layers (none) -> x"]
    long = {"policy": {"Statement": ["a" * 50]}}
    assert differences(long, {"policy": None}) == ["policy changed"]
    assert differences({"a": 1}, {"a": 1}) == []


def test_a_long_mapping_setting_names_its_keys_with_live_and_wanted_values():
    wanted = {"Environment": {"Variables": {"MODE": "fast", "CONFIG": "x" * 60}}}
    live = {"Environment": {"Variables": {"MODE": "slow", "CONFIG": "x" * 60, "DEBUG": "1"}}}
    assert differences(wanted, live) == ["Environment.Variables.MODE slow -> fast",
                                         "Environment.Variables.DEBUG 1 -> (none)"]


def test_render_matches_the_ux_sketch():
    plan = Plan("scope pr-42 (pull request #42)", (
        Change(Verb.CREATE, "function", "thumbs--pr-42", "1024 MB, 300 s"),
        Change(Verb.UPDATE, "function", "gray--pr-42", "memory 512 -> 2048"),
        Change(Verb.KEEP, "layer", "scar-ci-supervisor", "unchanged, sha256 3f2a…"),
        Change(Verb.DELETE, "function", "old-step--pr-42", "(no longer in scar.yaml)"),
    ))
    assert plan.render().splitlines() == [
        "scope pr-42 (pull request #42)",
        "  + create  function  thumbs--pr-42       1024 MB, 300 s",
        "  ~ update  function  gray--pr-42         memory 512 -> 2048",
        "  = keep    layer     scar-ci-supervisor  unchanged, sha256 3f2a…",
        "  - delete  function  old-step--pr-42     (no longer in scar.yaml)",
        "1 to create, 1 to update, 1 to delete, 1 unchanged.",
    ]
    document = json.loads(plan.to_json())
    assert document["changes"][1] == {"action": "update", "kind": "function",
                                      "name": "gray--pr-42", "detail": "memory 512 -> 2048"}
    assert len(plan.mutating) == 3
