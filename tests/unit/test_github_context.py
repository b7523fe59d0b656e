"""Reading the GitHub Actions context from the runner's variables and event payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from github_event_env import PAYLOADS, runner_env

from scar_ci.github.context import EventFileError, GitHubContext, PullRequest, load_context


def test_every_payload_has_its_runner_environment() -> None:
    assert len(PAYLOADS) >= 8
    for payload in PAYLOADS:
        assert isinstance(load_context(runner_env(payload)), GitHubContext), payload


@pytest.mark.parametrize(("payload", "what", "repo", "foreign"), [
    ("workflow_run_fork.json", "the workflow run 'CI' (pull_request) that triggered this one",
     "mallory/scar-action", True),
    ("workflow_run_push.json", "the workflow run 'CI' (push) that triggered this one",
     "grycap/scar-action", False),
    ("issue_comment_pr.json", "a comment on pull request #57", None, True),
    ("pull_request_review_fork.json", "pull request #57", "mallory/scar-action", True),
    ("pull_request_opened.json", "pull request #42", "grycap/scar-action", False),
])
def test_the_head_of_events_whose_code_may_be_a_fork_s(payload, what, repo, foreign) -> None:
    head = load_context(runner_env(payload)).head
    assert (head.what, head.repo, head.is_foreign) == (what, repo, foreign)


@pytest.mark.parametrize("payload", ["push_main.json", "issue_comment_issue.json",
                                     "schedule.json", "workflow_dispatch.json"])
def test_events_on_this_repository_s_own_ref_have_no_head(payload) -> None:
    assert load_context(runner_env(payload)).head is None


def test_outside_github_actions_there_is_no_context() -> None:
    assert load_context({}) is None
    assert load_context({"PATH": "/usr/bin", "GITHUB_EVENT_PATH": "/nonexistent"}) is None


def test_push_to_the_default_branch() -> None:
    ctx = load_context(runner_env("push_main.json"))
    assert ctx is not None
    assert (ctx.event_name, ctx.repository, ctx.branch, ctx.tag) == (
        "push", "grycap/scar-action", "main", None)
    assert ctx.default_branch == "main"
    assert ctx.sha == "5e1f2c3a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"
    assert ctx.pull_request is None and not ctx.deleted


def test_push_to_a_feature_branch_keeps_its_slash() -> None:
    ctx = load_context(runner_env("push_feature.json"))
    assert ctx is not None and ctx.branch == "feature/faster-thumbs"


def test_push_that_deletes_a_branch() -> None:
    ctx = load_context(runner_env("push_branch_deleted.json"))
    assert ctx is not None and ctx.deleted and ctx.branch == "feature/faster-thumbs"


def test_tag_push() -> None:
    ctx = load_context(runner_env("push_tag.json"))
    assert ctx is not None and (ctx.tag, ctx.branch) == ("v1.2.0", None)


def test_pull_request_opened_and_closed() -> None:
    opened = load_context(runner_env("pull_request_opened.json"))
    closed = load_context(runner_env("pull_request_closed.json"))
    assert opened is not None and closed is not None
    assert opened.pull_request == PullRequest(
        number=42, action="opened", head_ref="feature/faster-thumbs",
        head_repo="grycap/scar-action", base_repo="grycap/scar-action")
    assert not opened.pull_request.is_fork
    assert closed.pull_request is not None and closed.pull_request.action == "closed"
    assert closed.action == "closed" and closed.head_ref == "feature/faster-thumbs"
    # refs/pull/42/merge names neither a branch nor a tag
    assert (opened.branch, opened.tag) == (None, None)


def test_fork_pull_request_is_detected() -> None:
    ctx = load_context(runner_env("pull_request_fork.json"))
    assert ctx is not None and ctx.pull_request is not None
    assert ctx.pull_request.head_repo == "mallory/scar-action"
    assert ctx.pull_request.is_fork


def test_pull_request_inside_a_forked_repository_is_not_a_fork_pr() -> None:
    # Both sides in the same repository, which itself is a fork: its `fork` flag is true.
    assert not PullRequest(3, "opened", "x", "alice/scar", "alice/scar").is_fork


def test_pull_request_from_a_deleted_fork_counts_as_a_fork(tmp_path: Path) -> None:
    payload = json.loads(Path(runner_env("pull_request_fork.json")["GITHUB_EVENT_PATH"])
                         .read_text(encoding="utf-8"))
    payload["pull_request"]["head"]["repo"] = None
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    ctx = load_context(runner_env("pull_request_fork.json", GITHUB_EVENT_PATH=str(path)))
    assert ctx is not None and ctx.pull_request is not None
    assert ctx.pull_request.head_repo is None and ctx.pull_request.is_fork


def test_release_published() -> None:
    ctx = load_context(runner_env("release_published.json"))
    assert ctx is not None
    assert (ctx.action, ctx.release_tag, ctx.tag) == ("published", "v1.2.0", "v1.2.0")


def test_workflow_dispatch_on_a_branch() -> None:
    ctx = load_context(runner_env("workflow_dispatch.json"))
    assert ctx is not None and ctx.branch == "feature/faster-thumbs"


def test_ref_is_rebuilt_from_name_and_type_when_github_ref_is_missing() -> None:
    ctx = load_context(runner_env("push_tag.json", GITHUB_REF=""))
    assert ctx is not None and ctx.ref == "refs/tags/v1.2.0"


def _error(env: dict[str, str]) -> str:
    with pytest.raises(EventFileError) as caught:
        load_context(env)
    assert caught.value.exit_code != 0
    return str(caught.value)


def test_missing_event_path_variable() -> None:
    message = _error(runner_env("push_main.json", GITHUB_EVENT_PATH=""))
    assert "GITHUB_EVENT_PATH is not set" in message and "GITHUB_EVENT_NAME" in message


def test_missing_event_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.json"
    message = _error(runner_env("push_main.json", GITHUB_EVENT_PATH=str(missing)))
    assert str(missing) in message and "No such file" in message


@pytest.mark.parametrize(("content", "expected"), [
    ('{"ref": "refs/heads/main",', "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
    (b"\xff\xfe{}", "cannot read"),
])
def test_garbled_event_file(tmp_path: Path, content: str | bytes, expected: str) -> None:
    path = tmp_path / "event.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    message = _error(runner_env("push_main.json", GITHUB_EVENT_PATH=str(path)))
    assert expected in message and str(path) in message


@pytest.mark.parametrize(("patch", "field"), [
    ({"number": 42, "action": "opened"}, "pull_request"),
    ({"pull_request": {"number": "42", "head": {"ref": "x"}}}, "pull_request.number"),
    ({"pull_request": {"number": True}}, "pull_request.number"),
    ({"pull_request": {"number": 4, "head": {"ref": 7}}}, "pull_request.head.ref"),
    ({"pull_request": {"number": 4, "head": {"ref": "x"}, "base": {}}},
     "pull_request.base.repo.full_name"),
])
def test_pull_request_payload_with_wrong_fields(
        tmp_path: Path, patch: dict[str, object], field: str) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(patch), encoding="utf-8")
    message = _error(runner_env("pull_request_opened.json", GITHUB_EVENT_PATH=str(path)))
    assert f"field {field} " in message


def test_wrong_type_of_a_common_field(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"repository": {"default_branch": ["main"]}}), encoding="utf-8")
    message = _error(runner_env("push_main.json", GITHUB_EVENT_PATH=str(path)))
    assert "repository.default_branch" in message and "should be a string" in message
