"""The sticky comment and the Deployments through PyGithub over real HTTP against the fake
GitHub API: retries, refusals, and comments by other accounts left alone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from github_event_env import runner_env

from scar_ci.github.api import GitHubApi, GitHubApiError
from scar_ci.github.comments import marker, upsert_comment
from scar_ci.github.context import load_context
from scar_ci.github.deployments import deactivate_deployments, record_deployment
from scar_ci.scopes.scope import Scope
from scar_ci.steps.preview import PullRequestPreview
from scar_testbed.fake_github import OTHER_TOKEN, TOKEN, FakeGitHub

REPO = "grycap/scar-action"


@pytest.fixture
def api(fake_github: FakeGitHub) -> GitHubApi:
    return GitHubApi(REPO, TOKEN, fake_github.url)


def test_the_comment_is_created_once_then_edited(api, fake_github) -> None:
    first, created = upsert_comment(api, 42, "scar.yaml", "live at A")
    assert created
    again, created = upsert_comment(api, 42, "scar.yaml", "live at B")
    assert (again, created) == (first, False)
    assert [c["body"] for c in fake_github.comments[42]] == [f"{marker('scar.yaml')}\nlive at B"]
    assert fake_github.mutating() == [
        ("POST", f"/repos/{REPO}/issues/42/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{first}")]
    upsert_comment(api, 42, "scar.yaml", "live at B")
    assert len(fake_github.mutating()) == 2  # same text: no edit
    assert upsert_comment(api, 7, "scar.yaml", "torn down", create=False) == (None, False)
    assert upsert_comment(api, 42, "scar.yaml", "gone", create=False) == (first, False)
    assert 7 not in fake_github.comments and len(fake_github.comments[42]) == 1


def test_the_comment_is_found_on_a_later_page_and_per_fdl(api, fake_github) -> None:
    fake_github.page_size = 2
    human = GitHubApi(REPO, OTHER_TOKEN, fake_github.url)
    for i in range(5):
        human.repo.get_issue(42).create_comment(f"human {i}")
    ident, _ = upsert_comment(api, 42, "scar.yaml", "one")
    other, created = upsert_comment(api, 42, "other/scar.yaml", "two")
    assert created and other != ident
    assert upsert_comment(api, 42, "scar.yaml", "three") == (ident, False)
    assert len(fake_github.comments[42]) == 7


def test_a_marker_in_someone_elses_comment_is_not_taken_for_ours(api, fake_github) -> None:
    """Hole 5 of issue 13: anyone may write the marker; only the token's own comment is
    edited (the fake, like GitHub, refuses editing another's comment with 403)."""
    other = GitHubApi(REPO, OTHER_TOKEN, fake_github.url)
    planted = other.repo.get_issue(42).create_comment(f"{marker('scar.yaml')}\nphish").id
    ident, created = upsert_comment(api, 42, "scar.yaml", "live")
    assert created and ident != planted
    assert upsert_comment(api, 42, "scar.yaml", "live again") == (ident, False)
    bodies = {c["id"]: (c["user"]["login"], c["body"]) for c in fake_github.comments[42]}
    assert bodies[planted] == ("mallory", f"{marker('scar.yaml')}\nphish")
    assert bodies[ident] == ("github-actions[bot]", f"{marker('scar.yaml')}\nlive again")
    assert upsert_comment(api, 43, "scar.yaml", "gone", create=False) == (None, False)
    other.repo.get_issue(43).create_comment(marker("scar.yaml"))
    assert upsert_comment(api, 43, "scar.yaml", "gone", create=False) == (None, False)


def test_a_bot_login_matches_with_or_without_its_suffix_but_not_a_person(api) -> None:
    api.__dict__["identity"] = "github-actions"  # what GraphQL may say for the bot
    bot, person = SimpleNamespace(login="github-actions[bot]", type="Bot"), SimpleNamespace(
        login="github-actions[bot]", type="User")
    assert api.is_mine(bot) and not api.is_mine(person)
    assert not api.is_mine(SimpleNamespace(login="mallory", type="User"))


def test_first_calls_answered_502_and_429_still_succeed(api, fake_github) -> None:
    fake_github.fail_next(502)
    fake_github.fail_next(429, Retry_After="0")
    _, created = upsert_comment(api, 42, "scar.yaml", "live")
    assert created and fake_github.comments[42][0]["body"].endswith("live")
    fake_github.fail_next(503, times=2)
    assert record_deployment(api, ref="main", environment="pr-42", url="", log_url="l",
                             description="d", transient=True) > 0
    assert len(fake_github.deployments) == 1  # the failed tries created nothing


def test_refusals_and_bad_tokens_are_one_clear_error(api, fake_github) -> None:
    fake_github.refuse(403)
    with pytest.raises(GitHubApiError, match=r"GitHub refused listing the comments of #1: "
                                             r"HTTP 403 Resource not accessible") as error:
        upsert_comment(api, 1, "scar.yaml", "x")
    assert error.value.status == 403
    fake_github.refuse(500)
    seen = len(fake_github.calls)
    with pytest.raises(GitHubApiError, match=r"^GitHub refused marking the deployments of pr-1 "
                                             r"inactive: HTTP 500 Resource not accessible"):
        deactivate_deployments(api, "pr-1", "l")
    assert len(fake_github.calls) - seen == 4  # the first try and three retries
    fake_github.refuse(None)
    with pytest.raises(GitHubApiError, match="HTTP 401 Bad credentials"):
        upsert_comment(GitHubApi(REPO, "wrong", fake_github.url), 1, "scar.yaml", "x")
    with pytest.raises(GitHubApiError, match=r"cannot reach GitHub at http://127\.0\.0\.1:9 for "):
        deactivate_deployments(GitHubApi(REPO, TOKEN, "http://127.0.0.1:9"), "pr-1", "l")


def test_a_deployment_with_its_url_then_made_inactive(api, fake_github) -> None:
    ident = record_deployment(api, ref="feature/x", environment="pr-42", url="http://u/launch",
                              log_url="https://github.com/r/actions/runs/1",
                              description="preview pr-42", transient=True)
    record_deployment(api, ref="main", environment="production", url="", log_url="l",
                      description="prod", transient=False)
    deployment = fake_github.deployments[0]
    assert (deployment["ref"], deployment["environment"], deployment["transient_environment"],
            deployment["required_contexts"]) == ("feature/x", "pr-42", True, [])
    assert fake_github.statuses[ident][0]["environment_url"] == "http://u/launch"
    assert "environment_url" not in fake_github.statuses[ident + 2][0]
    assert fake_github.statuses[ident][0]["state"] == "success"
    assert deactivate_deployments(api, "pr-42", "l") == [ident]
    assert fake_github.statuses[ident][-1]["state"] == "inactive"
    assert fake_github.calls[-2].query["environment"] == "pr-42"


def test_a_refused_preview_report_is_a_warning_saying_which_permissions(
        fake_github, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    env = {**runner_env("pull_request_opened.json"), "GITHUB_API_URL": fake_github.url}
    preview = PullRequestPreview.of(load_context(env), TOKEN, "scar.yaml", env)
    assert preview is not None and preview.api.base_url == fake_github.url
    fake_github.refuse(403)
    preview.live(Scope.pull_request(42), {"count--pr-42": "http://u"}, ["b/input"], None)
    warnings = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("::warning::")]
    assert len(warnings) == 2
    assert all("HTTP 403" in w and "pull-requests: write" in w for w in warnings)
    assert PullRequestPreview.of(load_context(runner_env("push_main.json")), TOKEN, "f",
                                 env) is None


def test_github_enterprise_api_urls_are_honoured() -> None:
    api = GitHubApi(REPO, TOKEN, "https://ghe.example.org/api/v3/")
    assert api.client.requester.base_url == "https://ghe.example.org/api/v3"
    assert api.client.requester.graphql_url == "https://ghe.example.org/api/graphql"
    with pytest.raises(GitHubApiError, match="is not an http"):
        GitHubApi(REPO, TOKEN, "file:///etc/passwd")
