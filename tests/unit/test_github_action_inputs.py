"""The action's inputs as the runner passes them, and what `auto` decides for each event."""

from __future__ import annotations

import dataclasses

import pytest
from github_event_env import runner_env

from scar_ci.github.context import load_context
from scar_ci.scopes.scope import ScopeKind
from scar_ci.steps.decide import ForkRefused, decide
from scar_ci.steps.inputs import ActionInputs, InputError
from scar_testbed.actions_runner import action_inputs, input_env


def test_action_yml_and_the_reader_agree_on_every_input_and_default() -> None:
    declared = {name.replace("-", "_") for name in action_inputs()}
    assert declared == {f.name for f in dataclasses.fields(ActionInputs)}
    from_defaults = ActionInputs.from_env(input_env(token="t0ken"))
    assert from_defaults == ActionInputs(github_token="t0ken")


def test_hyphenated_names_keep_their_hyphen() -> None:
    env = input_env({"smoke-test": "false", "allow-forks": "True", "smoke-file": " a.txt "})
    assert "INPUT_SMOKE-TEST" in env and "INPUT_SMOKE_TEST" not in env
    inputs = ActionInputs.from_env(env)
    assert (inputs.smoke_test, inputs.allow_forks, inputs.smoke_file) == (False, True, "a.txt")


def test_prune_inputs() -> None:
    inputs = ActionInputs.from_env(input_env({
        "command": "prune", "older-than": "7d", "dry-run": "true",
        "include": "production, tag-v1-0-fa8b919c\ntag-v2"}))
    assert (inputs.command, inputs.older_than, inputs.dry_run) == ("prune", "7d", True)
    assert inputs.include == ("production", "tag-v1-0-fa8b919c", "tag-v2")
    assert decide(inputs, load_context(runner_env("schedule.json"))).scope is None
    drift = decide(dataclasses.replace(inputs, command="drift"),
                   load_context(runner_env("schedule.json")))
    assert drift.scope is not None and drift.scope.is_production


@pytest.mark.parametrize(("name", "value", "message"), [
    ("smoke-test", "yes", "input 'smoke-test': 'yes' is not true or false"),
    ("command", "destroy", "input 'command': 'destroy' is not one of validate, plan"),
    ("delete-data", "all", "input 'delete-data': 'all' is not one of previews, true, false"),
    ("image-builder", "kaniko", "input 'image-builder': 'kaniko' is not one of auto, docker, "
                                "daemonless"),
])
def test_a_bad_value_names_the_input(name: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as error:
        ActionInputs.from_env(input_env({name: value}))
    assert error.value.exit_code == 2


def test_the_image_builder_input_comes_before_the_environment_variable() -> None:
    from scar_ci.package.image.builder_choice import chosen_builder

    env = {"SCAR_CI_IMAGE_BUILDER": "daemonless"}
    given = ActionInputs.from_env(input_env({"image-builder": "docker"})).image_builder
    empty = ActionInputs.from_env(input_env()).image_builder
    assert (chosen_builder(given, env), chosen_builder(empty, env)) == ("docker", "daemonless")


def test_payload_and_file_exclude_each_other() -> None:
    with pytest.raises(InputError, match="give one of them"):
        ActionInputs.from_env(input_env({"smoke-payload": "{}", "smoke-file": "a"}))


@pytest.mark.parametrize(("payload", "command", "kind", "stage"), [
    ("pull_request_opened.json", "deploy", ScopeKind.PR, "pr-42"),
    ("pull_request_closed.json", "teardown", ScopeKind.PR, "pr-42"),
    ("push_main.json", "deploy", ScopeKind.PRODUCTION, ""),
    ("push_feature.json", "deploy", ScopeKind.BRANCH, None),
    ("push_branch_deleted.json", "teardown", ScopeKind.BRANCH, None),
    ("push_tag.json", "deploy", ScopeKind.TAG, "tag-v1-2-0-"),
    ("release_published.json", "deploy", ScopeKind.TAG, "tag-v1-2-0-"),
    ("workflow_dispatch.json", "deploy", ScopeKind.BRANCH, None),
])
def test_auto_decides_from_the_event(payload, command, kind, stage) -> None:
    decision = decide(ActionInputs(), load_context(runner_env(payload)))
    assert decision.command == command
    assert decision.scope is not None and decision.scope.kind is kind
    if stage is not None:
        assert decision.scope.stage.startswith(stage)


def test_pull_request_actions_without_new_code_do_nothing() -> None:
    context = dataclasses.replace(load_context(runner_env("pull_request_opened.json")),
                                  action="labeled")
    assert decide(ActionInputs(), context).command == "nothing"


def test_a_fork_is_refused_with_the_reason_unless_allowed() -> None:
    context = load_context(runner_env("pull_request_fork.json"))
    for command in ("auto", "deploy", "plan", "teardown", "invoke"):
        with pytest.raises(ForkRefused, match=r"#57 comes from .*fork.*AWS credentials.*"
                                              r"allow-forks: true"):
            decide(ActionInputs(command=command), context)
    assert decide(ActionInputs(command="validate"), context).command == "validate"
    allowed = decide(ActionInputs(allow_forks=True), context)
    assert allowed.command == "deploy" and allowed.scope.stage == "pr-57"


# Issue 13, hole 2: every event whose code may be a fork's, as GitHub sends it.
FOREIGN = [
    ("workflow_run_fork.json", r"the workflow run 'CI' \(pull_request\) that triggered this "
                               r"one comes from mallory/scar-action, a fork"),
    ("issue_comment_pr.json", r"a comment on pull request #57 does not say which repository"),
    ("pull_request_review_fork.json", r"pull request #57 comes from mallory/scar-action"),
]


@pytest.mark.parametrize(("payload", "message"), FOREIGN)
def test_code_from_another_repository_is_refused_whatever_the_event(payload, message) -> None:
    context = load_context(runner_env(payload))
    for command in ("deploy", "plan", "teardown", "invoke"):
        with pytest.raises(ForkRefused, match=message + r".*allow-forks: true"):
            decide(ActionInputs(command=command), context)
    assert decide(ActionInputs(command="deploy", allow_forks=True), context).scope is not None


@pytest.mark.parametrize("payload", [
    "workflow_run_fork.json", "workflow_run_push.json", "issue_comment_pr.json",
    "issue_comment_issue.json", "pull_request_review_fork.json"])
def test_auto_does_nothing_on_events_it_does_not_understand(payload) -> None:
    decision = decide(ActionInputs(), load_context(runner_env(payload)))
    assert decision.command == "nothing" and decision.scope is None
    assert "does not act on" in decision.why and "set the inputs command and scope" in \
        decision.why


def test_events_about_this_repository_s_own_code_are_not_refused() -> None:
    own_run = decide(ActionInputs(command="deploy"), load_context(
        runner_env("workflow_run_push.json")))
    assert own_run.command == "deploy" and own_run.scope.is_production
    comment = decide(ActionInputs(command="plan"), load_context(
        runner_env("issue_comment_issue.json")))
    assert comment.scope.is_production
    scheduled = decide(ActionInputs(), load_context(runner_env("schedule.json")))
    assert scheduled.command == "deploy" and scheduled.scope is not None


def test_check_events_do_not_name_their_code_s_repository(tmp_path) -> None:
    payload = tmp_path / "check_suite.json"
    payload.write_text('{"action": "completed", "check_suite": {"head_branch": "main"}, '
                       '"repository": {"full_name": "grycap/scar-action"}}')
    env = {**runner_env("schedule.json"), "GITHUB_EVENT_NAME": "check_suite",
           "GITHUB_EVENT_PATH": str(payload)}
    with pytest.raises(ForkRefused, match="the check_suite event does not say"):
        decide(ActionInputs(command="deploy"), load_context(env))


def test_the_scope_input_overrides_the_event() -> None:
    context = load_context(runner_env("push_feature.json"))
    assert decide(ActionInputs(scope="production"), context).scope.is_production
    assert decide(ActionInputs(command="plan", scope="pr-7"), None).scope.stage == "pr-7"
