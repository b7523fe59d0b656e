"""Scopes from `--scope` and from GitHub events; descriptions, tags and ownership."""

from __future__ import annotations

import hashlib

import pytest
from github_event_env import runner_env

from scar_ci.aws.logs import LogGroup
from scar_ci.aws.resource import ForeignResource, ensure_ours
from scar_ci.errors import UsageError, UserError
from scar_ci.github.context import load_context
from scar_ci.scopes.scope import Scope, ScopeKind, resolve_scope
from scar_ci.scopes.tags import scope_label, tag_value
from scar_testbed.scope_collisions import colliding_branches, stage_hash_width

REPO = "grycap/scar-action"


def h(text: str, width: int = 8) -> str:
    """The hash scar-ci appends to names it had to change: sha256 of the original (8 hex
    digits in resource names, 12 in stage names)."""
    return hashlib.sha256(text.encode()).hexdigest()[:width]



def test_hashes_are_sha256_of_the_original_name() -> None:
    assert h("feature/faster-thumbs") == "abe46865"  # pinned: a new scheme orphans resources


@pytest.mark.parametrize(("text", "kind", "stage", "ident"), [
    ("production", ScopeKind.PRODUCTION, "", None),
    ("pr-42", ScopeKind.PR, "pr-42", "42"),
    ("pr:42", ScopeKind.PR, "pr-42", "42"),
    ("branch:feature-x", ScopeKind.BRANCH, "br-feature-x", "feature-x"),
    ("branch:feature/faster-thumbs", ScopeKind.BRANCH, "br-feature-fast-abe4686553a1",
     "feature/faster-thumbs"),
    ("branch:a:b", ScopeKind.BRANCH, f"br-a-b-{h('a:b', 12)}", "a:b"),
    ("tag:v1.2.0", ScopeKind.TAG, "tag-v1-2-0-34bd659feb53", "v1.2.0"),
    ("tag:release", ScopeKind.TAG, "tag-release", "release"),
    ("manual:alice", ScopeKind.MANUAL, "mn-alice", "alice"),
    # stage names as plan and ls print them
    ("br-feature-fast-abe4686553a1", ScopeKind.BRANCH, "br-feature-fast-abe4686553a1", None),
    ("tag-v1-2-0-34bd659feb53", ScopeKind.TAG, "tag-v1-2-0-34bd659feb53", None),
    ("mn-alice", ScopeKind.MANUAL, "mn-alice", None),
])
def test_parse(text: str, kind: ScopeKind, stage: str, ident: str | None) -> None:
    scope = Scope.parse(text, REPO)
    assert (scope.kind, scope.stage, scope.ident, scope.source) == (kind, stage, ident, REPO)


def test_a_stage_name_reaches_the_same_resources_as_its_branch() -> None:
    by_branch = Scope.parse("branch:feature/faster-thumbs")
    by_stage = Scope.parse(by_branch.stage)
    assert by_stage.function_name("thumbs") == by_branch.function_name("thumbs")
    assert by_stage.tags()["scar-ci:scope"] == by_branch.tags()["scar-ci:scope"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", "not a scope"),
    ("Production", "write 'production' in lowercase"),
    ("feature/x", "write 'branch:feature/x'"),
    ("pr-0", "whole number from 1"),
    ("pr-042", "whole number from 1"),
    ("pr:", "whole number from 1"),
    ("pr-12345678901", "whole number from 1"),
    ("branch:", "'branch:' needs a name"),
    ("tag:", "'tag:' needs a name"),
    ("br-Feature", "not a scope"),
    ("br-" + "x" * 30, "not a scope"),
    ("staging:x", "not a scope"),
    ("a\nb::error::x", "not a scope"),
])
def test_parse_errors_are_one_clear_usage_error(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        Scope.parse(text)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert expected in message and "--scope" in message and "branch:<name>" in message
    assert "\n" not in message


@pytest.mark.parametrize(("payload", "label", "description"), [
    ("push_main.json", "production", "production (names as in the FDL)"),
    ("push_feature.json", "br-feature-fast-abe4686553a1",
     "scope br-feature-fast-abe4686553a1 (branch feature/faster-thumbs)"),
    ("push_branch_deleted.json", "br-feature-fast-abe4686553a1",
     "scope br-feature-fast-abe4686553a1 (branch feature/faster-thumbs)"),
    ("pull_request_opened.json", "pr-42",
     "scope pr-42 (pull request #42, branch feature/faster-thumbs)"),
    ("pull_request_closed.json", "pr-42",
     "scope pr-42 (pull request #42, branch feature/faster-thumbs)"),
    ("pull_request_fork.json", "pr-57", "scope pr-57 (pull request #57, branch main)"),
    ("release_published.json", "tag-v1-2-0-34bd659feb53",
     "scope tag-v1-2-0-34bd659feb53 (tag v1.2.0)"),
    ("push_tag.json", "tag-v1-2-0-34bd659feb53", "scope tag-v1-2-0-34bd659feb53 (tag v1.2.0)"),
    ("workflow_dispatch.json", "br-feature-fast-abe4686553a1",
     "scope br-feature-fast-abe4686553a1 (branch feature/faster-thumbs)"),
])
def test_scope_from_github_events(payload: str, label: str, description: str) -> None:
    context = load_context(runner_env(payload))
    assert context is not None
    scope = resolve_scope(None, context)
    assert (scope.label, scope.describe(), scope.source) == (label, description, REPO)


def test_pull_request_target_runs_on_the_base_branch_but_deploys_the_preview() -> None:
    env = runner_env("pull_request_opened.json", GITHUB_EVENT_NAME="pull_request_target",
                     GITHUB_REF="refs/heads/main", GITHUB_REF_NAME="main")
    assert resolve_scope(None, load_context(env)).label == "pr-42"


def test_workflow_dispatch_on_the_default_branch_is_production() -> None:
    env = runner_env("workflow_dispatch.json", GITHUB_REF="refs/heads/main")
    assert resolve_scope(None, load_context(env)).is_production


def test_without_default_branch_a_branch_push_is_a_preview_never_production(
        tmp_path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"ref": "refs/heads/main"}', encoding="utf-8")
    env = runner_env("push_main.json", GITHUB_EVENT_PATH=str(event))
    assert resolve_scope(None, load_context(env)).label == "br-main"


def test_event_without_branch_tag_or_pull_request_asks_for_scope() -> None:
    env = runner_env("push_main.json", GITHUB_EVENT_NAME="schedule", GITHUB_REF="",
                     GITHUB_REF_NAME="", GITHUB_REF_TYPE="")
    with pytest.raises(UserError, match="pass --scope"):
        resolve_scope(None, load_context(env))


def test_flag_wins_over_the_event_and_keeps_the_repository() -> None:
    context = load_context(runner_env("pull_request_opened.json"))
    assert resolve_scope("production", context) == Scope.production(REPO)
    same_pr = resolve_scope("pr-42", context)
    assert same_pr.describe() == "scope pr-42 (pull request #42, branch feature/faster-thumbs)"
    assert resolve_scope("pr-7", context).describe() == "scope pr-7 (pull request #7)"


def test_no_flag_and_no_event_is_production() -> None:
    assert resolve_scope(None, None) == Scope.production()


def test_descriptions_escape_what_could_break_a_log_line() -> None:
    scope = Scope.parse("branch:evil\n::error::owned\u202e")
    line = scope.describe()
    assert "\n" not in line and "\u202e" not in line
    assert line.endswith("(branch evil\\n::error::owned\\u202e)")
    assert Scope.parse("manual:alice").describe() == (
        "scope mn-alice (named 'alice' on the command line)")
    assert Scope.parse("br-x").describe() == "scope br-x (branch, given by its stage name)"
    assert len(Scope.parse("branch:" + "b" * 500).describe()) < 140


def test_scoped_names_follow_the_ux_sketch() -> None:
    pr = Scope.parse("pr-42")
    assert pr.function_name("thumbs") == "thumbs--pr-42"
    assert pr.log_group("thumbs") == "/aws/lambda/thumbs--pr-42"
    assert pr.api_name("thumbs") == "thumbs--pr-42"
    assert pr.bucket("scar-thumbs") == "scar-thumbs--pr-42"
    assert pr.ecr_repository("thumbs") == "thumbs/pr-42"
    assert pr.role_name("scar-ci-thumbs") == "scar-ci-thumbs--pr-42"
    assert pr.batch_name("thumbs") == "thumbs--pr-42"
    assert pr.layer_name("scar-supervisor") == "scar-supervisor--pr-42"


def test_production_keeps_valid_fdl_names_and_fixes_invalid_ones() -> None:
    prod = Scope.production()
    assert prod.function_name("Thumbs_v2") == "Thumbs_v2"
    assert prod.log_group("Thumbs_v2") == "/aws/lambda/Thumbs_v2"
    assert prod.bucket("my.data.bucket") == "my.data.bucket"  # S3 accepts it as given
    assert prod.bucket("My_Bucket") == f"my-bucket-{h('My_Bucket')}"
    assert prod.bucket("192.168.5.4").startswith("192-168-5-4-")
    assert prod.ecr_repository("Thumbs_v2") == f"thumbs-v2-{h('Thumbs_v2')}"
    assert prod.api_name("My API") == "My API"


def test_long_and_odd_fdl_names_are_cut_with_a_hash_but_keep_the_stage() -> None:
    pr = Scope.parse("pr-42")
    long = "a-very-long-function-name-that-goes-on-and-on-for-ever-and-ever"
    assert len(long) == 63
    name = pr.function_name(long)
    assert len(name) <= 64 and name.endswith("--pr-42") and name.startswith("a-very-long")
    assert pr.bucket("Scar.Thumbs") == f"scar-thumbs-{h('Scar.Thumbs')}--pr-42"
    assert pr.bucket("sthree-data") == f"data-{h('sthree-data')}--pr-42"


def test_tags_mark_resources_as_ours_and_the_scopes() -> None:
    scope = Scope.parse("branch:feature/faster-thumbs", REPO)
    assert scope.tags("thumbs") == {
        "scar-ci:managed": "true",
        "scar-ci:scope": "br-feature-fast-abe4686553a1",
        "scar-ci:kind": "branch",
        "scar-ci:ref": "feature/faster-thumbs",
        "scar-ci:source": REPO,
        "scar-ci:fdl-function": "thumbs",
        "scar-ci:scope-id": hashlib.sha256(b"branch\0feature/faster-thumbs").hexdigest()[:32],
    }
    assert Scope.production().tags() == {
        "scar-ci:managed": "true", "scar-ci:scope": "production", "scar-ci:kind": "production"}


def test_tag_values_are_sanitised() -> None:
    assert tag_value("feat/ünïcode@x $(id)") == "feat/ünïcode_x __id_"
    assert tag_value("aws:thing") == "_aws:thing"
    assert tag_value("\ud800x") == "_x"
    assert len(tag_value("x" * 1000)) == 256


def test_owns_recognises_its_own_resources_only() -> None:
    pr42 = Scope.parse("pr-42", REPO)
    mine = pr42.tags("thumbs")
    assert pr42.owns(mine)
    assert not Scope.parse("pr-43", REPO).owns(mine)
    assert not Scope.production(REPO).owns(mine)
    assert not Scope.parse("pr-42", "someone/else").owns(mine)
    assert not pr42.owns({**mine, "scar-ci:managed": "false"})
    assert not pr42.owns({"scar-ci:scope": "pr-42"})
    # a local run that knows no repository acts on the scope whatever deployed it
    assert Scope.parse("pr-42").owns(mine)
    assert scope_label(mine) == "pr-42" and scope_label({}) is None


def test_two_branches_sharing_a_stage_do_not_own_each_other_s_resources() -> None:
    """Issue 13, hole 8: a birthday search finds two branch names with one stage name (here
    under a 4-digit hash, as fast as the 8-digit one was within seconds); the scope-id tag
    still tells their resources apart, whatever the width."""
    with stage_hash_width(4):
        first, second, stage = colliding_branches("feature")
        a, b = Scope.parse(f"branch:{first}", REPO), Scope.parse(f"branch:{second}", REPO)
    assert a.stage == b.stage == stage
    assert a.function_name("thumbs") == b.function_name("thumbs")
    assert a.owns(a.tags("thumbs")) and b.owns(b.tags("thumbs"))
    assert not b.owns(a.tags("thumbs")) and not a.owns(b.tags("thumbs"))
    live = a.tags("thumbs")
    with pytest.raises(ForeignResource, match="another branch whose stage name is also"):
        ensure_ours(LogGroup(b.log_group("thumbs"), 30), live, b.tags("thumbs"))
    # addressed by its stage name alone (teardown of a stage), a scope acts on both: said so
    assert Scope.parse(stage, REPO).owns(live)


def test_resources_tagged_before_the_scope_id_are_told_apart_by_their_ref() -> None:
    a, b = Scope.parse("branch:one", REPO), Scope.parse("branch:two", REPO)
    old = {k: v for k, v in a.tags().items() if k != "scar-ci:scope-id"}
    assert a.owns(old) and not b.owns({**old, "scar-ci:scope": b.label})


def test_stage_hashes_are_48_bits_and_names_keep_their_8() -> None:
    scope = Scope.parse("branch:feature/faster-thumbs", REPO)
    assert scope.stage == f"br-feature-fast-{h('feature/faster-thumbs', 12)}"
    assert Scope.production().function_name("Scar.Thumbs!") == f"Scar-Thumbs-{h('Scar.Thumbs!')}"
