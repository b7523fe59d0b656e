"""Previews that cannot leak: `scar-ci prune` against LocalStack and the fake GitHub API."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from deploy_helpers import deploy, function, teardown, write_fdl

from scar_ci import cli
from scar_ci.aws import session
from scar_ci.scopes.scope import Scope, ScopeKind
from scar_testbed.fake_github import TOKEN

pytestmark = pytest.mark.integration


def live_functions() -> set[str]:
    pages = boto3.client("lambda").get_paginator("list_functions").paginate()
    return {f["FunctionName"] for page in pages for f in page["Functions"]}


@pytest.fixture
def recorded(monkeypatch):
    """Every Aws the command makes, with its call log."""
    made: list[session.Aws] = []

    class Recorded(session.Aws):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(session, "Aws", Recorded)
    return made


def prune(capsys, *args: str) -> dict:
    """`scar-ci prune --json ARGS`'s answer; it must succeed."""
    code = cli.main(["prune", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def github_env(monkeypatch, fake_github, unique_name):
    repository = f"scar-test/{unique_name}"
    monkeypatch.setenv("GITHUB_REPOSITORY", repository)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    return repository


def test_prune_removes_the_previews_whose_pr_closed_or_branch_went_and_nothing_else(
        tmp_path, localstack, unique_name, fake_github, github_env, recorded, capsys):
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name)])
    closed = Scope.pull_request(7, source=github_env)
    opened = Scope.pull_request(8, source=github_env)
    gone = Scope.named(ScopeKind.BRANCH, "feature/gone", github_env)
    production = Scope.production(github_env)
    for scope in (closed, opened, gone, production):
        deploy(fdl, scope)
    fake_github.pulls.update({7: "merged", 8: "open"})
    fake_github.branches.add("main")
    names = {s.label: s.function_name(unique_name) for s in (closed, opened, gone, production)}

    dry = prune(capsys, "--dry-run")
    assert [c for aws in recorded for c in aws.calls.mutating] == []
    assert fake_github.mutating() == []
    assert set(names.values()) <= live_functions()
    verdicts = {v["scope"]: (v["action"], v["why"]) for v in dry["scopes"]
                if v["repository"] == github_env}
    assert verdicts == {
        "pr-7": ("remove", "pull request #7 is merged"),
        "pr-8": ("keep", "pull request #8 is open"),
        gone.label: ("remove", "branch feature/gone no longer exists"),
        "production": ("keep", "production: never pruned unless named (--include production)"),
    }
    assert {p["scope"] for p in dry["plans"]} == {closed.describe(), gone.describe()}
    assert all(c["action"] == "delete" for p in dry["plans"] for c in p["changes"]
               if c["kind"] == "function")

    prune(capsys)
    live = live_functions()
    assert names["pr-7"] not in live and names[gone.label] not in live
    assert {names["pr-8"], names["production"]} <= live
    asked = {c.path.split("/", 4)[-1] for c in fake_github.calls}
    assert asked == {"pulls/7", "pulls/8", "branches/feature/gone"}
    teardown(opened)
    teardown(production)


def test_older_than_needs_no_token_and_removes_only_what_is_older(
        tmp_path, localstack, unique_name, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    repository = f"scar-test/{unique_name}"
    monkeypatch.setenv("GITHUB_REPOSITORY", repository)
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name)])
    old = replace(Scope.named(ScopeKind.MANUAL, "old", repository), created="2026-01-01T00:00:00Z")
    new = Scope.named(ScopeKind.MANUAL, "new", repository)
    old_pr = replace(Scope.pull_request(3, source=repository), created="2026-01-02T00:00:00Z")
    for scope in (old, new, old_pr):
        deploy(fdl, scope)

    assert cli.main(["prune"]) == 2
    assert "--older-than 7d" in capsys.readouterr().err

    done = prune(capsys, "--older-than", "7d")
    verdicts = {v["scope"]: v for v in done["scopes"] if v["repository"] == repository}
    assert {label: v["action"] for label, v in verdicts.items()} == {
        old.label: "remove", new.label: "keep", "pr-3": "remove"}
    assert verdicts[old.label]["why"].startswith("created ")
    assert verdicts[new.label]["why"] == "created 0m ago"
    live = live_functions()
    assert old.function_name(unique_name) not in live
    assert old_pr.function_name(unique_name) not in live
    assert new.function_name(unique_name) in live
    teardown(new)


def test_ls_all_scopes_shows_origin_age_functions_and_urls_as_a_table_and_json(
        tmp_path, localstack, unique_name, capsys):
    repository = f"scar-test/{unique_name}"
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name,
                                        api_gateway={"name": unique_name})])
    odd = Scope.named(ScopeKind.BRANCH, "feature/ünï#1", repository)  # '#' cannot be a tag
    deploy(fdl, replace(odd, created="2026-11-30T00:00:00Z"))
    name = odd.function_name(unique_name)

    assert cli.main(["ls", "--all-scopes", "--json"]) == 0
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["repository"] == repository]
    assert row["scope"] == odd.label and row["kind"] == "branch"
    assert row["ref"] == "feature/ünï#1" and row["pull_request"] is None
    assert row["created"] == "2026-11-30T00:00:00Z" and row["age_seconds"] > 86400
    assert row["functions"] == [name]
    assert row["urls"][name].startswith("http") and "/scar" in row["urls"][name]

    assert cli.main(["ls", "--all-scopes"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if repository in x]
    assert line.split()[:3] == [odd.label, "branch", "feature/ünï#1"]
    assert name in line and row["urls"][name] in line
    teardown(odd)
