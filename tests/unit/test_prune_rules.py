"""prune's verdicts, scopes rebuilt from their tags, and GitHub's answers through PyGithub
(the fake GitHub API): which scope goes, which stays, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scar_ci.aws.inventory import DeployedScope
from scar_ci.deploy.prune import Rules, judge, parse_age, shown_age
from scar_ci.errors import UsageError
from scar_ci.github.api import GitHubApiError
from scar_ci.github.origins import Origins, PullState
from scar_ci.scopes.scope import Scope, ScopeKind, created_at, scope_from_tags
from scar_ci.scopes.tags import TAG_REF, TAG_REF_EXACT
from scar_testbed.fake_github import TOKEN

REPO = "acme/thumbs"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def found(scope: Scope, created: str | None = "2026-12-01T12:00:00Z") -> DeployedScope:
    return DeployedScope(replace(scope, created=created))


def rules(origins: Origins | None = None, older_than: str | None = None,
          named: frozenset[str] = frozenset(), repository: str | None = REPO) -> Rules:
    return Rules(repository, origins, parse_age(older_than) if older_than else None, named, NOW)


@pytest.fixture
def origins(fake_github) -> Origins:
    fake_github.pulls.update({1: "open", 2: "closed", 3: "merged"})
    fake_github.branches.update({"main", "feature/x"})
    return Origins(REPO, TOKEN, fake_github.url)


def test_pull_requests_and_branches_as_github_tells(origins, fake_github) -> None:
    assert [origins.pull_request(n) for n in (1, 2, 3, 4)] == [
        PullState.OPEN, PullState.CLOSED, PullState.MERGED, PullState.MISSING]
    assert origins.branch_exists("feature/x") and not origins.branch_exists("feature/y")
    assert origins.pull_request(1) is PullState.OPEN  # asked once
    assert [c.path for c in fake_github.calls] == [
        f"/repos/{REPO}/pulls/{n}" for n in (1, 2, 3, 4)] + [
        f"/repos/{REPO}/branches/feature/x", f"/repos/{REPO}/branches/feature/y"]


def test_a_refusal_other_than_404_stops_instead_of_guessing(origins, fake_github) -> None:
    fake_github.refuse(403)
    with pytest.raises(GitHubApiError, match="HTTP 403"):
        origins.pull_request(2)
    with pytest.raises(GitHubApiError, match="HTTP 401"):
        Origins(REPO, "wrong-token", fake_github.url).branch_exists("main")


@pytest.mark.parametrize(("scope", "remove", "why"), [
    (Scope.pull_request(1, source=REPO), False, "pull request #1 is open"),
    (Scope.pull_request(2, source=REPO), True, "pull request #2 is closed"),
    (Scope.pull_request(3, source=REPO), True, "pull request #3 is merged"),
    (Scope.pull_request(4, source=REPO), True, "pull request #4 does not exist"),
    (Scope.named(ScopeKind.BRANCH, "feature/x", REPO), False, "branch feature/x exists"),
    (Scope.named(ScopeKind.BRANCH, "gone", REPO), True, "branch gone no longer exists"),
    (Scope.pull_request(2, source="other/repo"), False, "deployed from other/repo"),
    (Scope.production(REPO), False,
     "production: never pruned unless named (--include production)"),
    (Scope.named(ScopeKind.TAG, "v1.0", REPO), False,
     "a release tag: never pruned unless named (--include tag-v1-0-fa8b919c909d)"),
    (Scope.named(ScopeKind.MANUAL, "demo", REPO), False, "nothing says it is abandoned"),
])
def test_verdicts_with_a_token(origins, scope, remove, why) -> None:
    verdict = judge(found(scope), rules(origins))
    assert (verdict.remove, verdict.why) == (remove, why)


def test_age_removes_any_preview_or_manual_scope_older_and_keeps_the_unknown() -> None:
    old = "2026-11-20T12:00:00Z"
    assert judge(found(Scope.named(ScopeKind.MANUAL, "m", REPO), old), rules(
        older_than="7d")).why == "created 12d ago, older than 7d"
    young = judge(found(Scope.pull_request(1, source=REPO)), rules(older_than="7d"))
    assert (young.remove, young.why) == (False, "not asked to GitHub (no token); created 1d "
                                                "ago")
    unknown = judge(found(Scope.pull_request(1, source=REPO), None), rules(older_than="1h"))
    assert not unknown.remove and "age is unknown" in unknown.why
    assert not judge(found(Scope.production(REPO), old), rules(older_than="7d")).remove
    assert judge(found(Scope.production(REPO), old),
                 rules(older_than="7d", named=frozenset({"production"}))).remove


def test_scopes_of_no_repository_are_judged_only_without_one() -> None:
    handmade = found(Scope.named(ScopeKind.MANUAL, "m"), "2026-01-01T00:00:00Z")
    assert not judge(handmade, rules(older_than="7d")).remove
    assert judge(handmade, rules(older_than="7d", repository=None)).remove
    same_stage = found(Scope.named(ScopeKind.MANUAL, "m", REPO))
    kept = judge(handmade, rules(older_than="7d", repository=None), [handmade, same_stage])
    assert not kept.remove and "shares its stage" in kept.why


def test_no_token_and_no_age_is_refused() -> None:
    with pytest.raises(UsageError, match="--older-than 7d"):
        rules().check()
    rules(older_than="2w").check()


@pytest.mark.parametrize("text", ["7", "d", "0d", "7 days", "-1d", "1.5h", "7D"])
def test_ages_are_a_whole_number_and_a_unit(text) -> None:
    with pytest.raises(UsageError, match="30m, 12h, 7d or 2w"):
        parse_age(text)


def test_ages_read_and_shown() -> None:
    assert parse_age("30m") == timedelta(minutes=30)
    assert parse_age("2w") == timedelta(days=14)
    assert shown_age(timedelta(days=3, hours=4, minutes=5)) == "3d 4h"
    assert shown_age(timedelta(minutes=40)) == "40m"


def test_a_scope_comes_back_from_its_tags_with_its_exact_ref_and_creation_time() -> None:
    odd = "feature/ümlaut#1"  # '#' is not allowed in a tag value: the ref tag changes it
    scope = replace(Scope.named(ScopeKind.BRANCH, odd, REPO), created="2026-12-01T10:00:00Z")
    tags = scope.tags()
    assert tags[TAG_REF] != odd and TAG_REF_EXACT in tags
    back = scope_from_tags(tags)
    assert back == replace(scope, branch=None)
    assert created_at(back) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert TAG_REF_EXACT not in Scope.named(ScopeKind.BRANCH, "feature/x", REPO).tags()


def test_a_ref_that_does_not_give_back_the_stage_is_never_guessed() -> None:
    tags = Scope.named(ScopeKind.BRANCH, "feature/a#b", REPO).tags()
    del tags[TAG_REF_EXACT]  # as deployed before the exact ref was tagged
    assert scope_from_tags(tags).ident is None
    assert scope_from_tags({**tags, TAG_REF_EXACT: "not base64!"}).ident is None
    assert scope_from_tags(Scope.pull_request(9, source=REPO).tags()).ident == "9"
    assert scope_from_tags({"scar-ci:managed": "true", "scar-ci:scope": "???"}) is None
