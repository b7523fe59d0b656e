"""Drift that cannot hide: a change made behind scar-ci's back shows in `plan
--detailed-exitcode` (exit 2, live and wanted values) and fails the action's `drift`; the
action's `prune` reports what it removed and kept. Against LocalStack and the fake GitHub."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from deploy_helpers import deploy, function, teardown, write_fdl
from test_action import outputs_of, run_action
from test_prune import live_functions

from scar_ci import cli
from scar_ci.aws.session import Aws
from scar_ci.github.comments import marker
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_CREATED

pytestmark = pytest.mark.integration


def change_behind_our_back(name: str) -> None:
    """What someone does in the console: more memory, one more variable."""
    client = boto3.client("lambda")
    live = client.get_function_configuration(FunctionName=name)
    variables = {**live["Environment"]["Variables"], "DEBUG": "1"}
    client.update_function_configuration(FunctionName=name, MemorySize=1024,
                                         Environment={"Variables": variables})
    client.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_plan_detailed_exitcode_is_0_without_changes_2_with_drift_1_on_errors(
        tmp_path, localstack, unique_name, capsys):
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name)])
    scope = Scope.parse(f"manual:{unique_name}")
    deploy(fdl, scope)
    plan = ["plan", "-f", str(fdl), "--scope", f"manual:{unique_name}", "--detailed-exitcode"]
    assert cli.main(plan) == 0
    capsys.readouterr()

    change_behind_our_back(scope.function_name(unique_name))
    assert cli.main(plan) == 2
    shown = capsys.readouterr().out
    assert "MemorySize 1024 -> 512" in shown
    assert "Environment.Variables.DEBUG 1 -> (none)" in shown
    assert "1 to update" in shown

    assert cli.main(["plan", "-f", str(tmp_path / "missing.yaml"), "--detailed-exitcode"]) == 1
    teardown(scope)


def test_the_drift_command_fails_a_scheduled_job_with_the_plan_in_the_summary(
        tmp_path, localstack, unique_name):
    repository = f"scar-test/{unique_name}"
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name)])
    production = Scope.production(repository)
    deploy(fdl, production)
    inputs = {"command": "drift", "fdl": fdl.name}

    clean = run_action(tmp_path, "schedule.json", inputs, GITHUB_REPOSITORY=repository)
    assert clean.code == 0, clean.stderr
    assert "No drift" in clean.summary
    assert outputs_of(clean.outputs)["drifted"] == "false"

    change_behind_our_back(unique_name)
    drifted = run_action(tmp_path, "schedule.json", inputs, GITHUB_REPOSITORY=repository)
    assert drifted.code == 1
    assert "Drift: 1 difference(s)" in drifted.summary
    assert "MemorySize 1024 -> 512" in drifted.summary
    assert "differs from scar.yaml" in drifted.stderr
    assert outputs_of(drifted.outputs)["drifted"] == "true"
    teardown(production)


def test_the_prune_command_reports_what_it_removed_and_kept(tmp_path, localstack, unique_name,
                                                            fake_github):
    repository = f"scar-test/{unique_name}"
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name)])
    closed, opened = (Scope.pull_request(n, source=repository) for n in (11, 12))
    deploy(fdl, closed)
    deploy(fdl, opened)
    fake_github.pulls.update({11: "closed", 12: "open"})
    api = f"{fake_github.url}/repos/{repository}"  # what GitHub answers with, urls included
    fake_github.deployments.append({"id": 5, "environment": "pr-11",
                                    "url": f"{api}/deployments/5"})
    fake_github.comments[11] = [{"id": 6, "body": f"{marker('scar.yaml')}\nPreview is live",
                                 "user": {"login": "github-actions[bot]", "type": "Bot"},
                                 "url": f"{api}/issues/comments/6"}]

    done = run_action(tmp_path, "schedule.json", {"command": "prune"}, fake_github,
                      GITHUB_REPOSITORY=repository)
    assert done.code == 0, done.stderr
    assert outputs_of(done.outputs)["pruned"] == '["pr-11"]'
    assert "1 removed, 1 kept;" in done.summary
    assert f"| `pr-11` | pull request #11 | {repository} |" in done.summary
    assert "removed | pull request #11 is closed |" in done.summary
    assert "kept | pull request #12 is open |" in done.summary
    assert "pr-11: torn down" in done.summary
    assert fake_github.statuses[5][0]["state"] == "inactive", done.stdout + done.stderr
    assert "`pr-11` was torn down" in fake_github.comments[11][0]["body"]
    names = live_functions()
    assert closed.function_name(unique_name) not in names
    assert opened.function_name(unique_name) in names
    teardown(opened)


def refuse_tag_reads(model, **_):
    """What credentials without tag:GetResources meet (and what scar-ci deployed before it
    tagged creation times looks like: no scar-ci:created anywhere)."""
    if model.name == "GetResources":
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}},
                          model.name)


def test_a_scope_deployed_without_creation_times_shows_no_drift_and_no_age(
        tmp_path, localstack, unique_name, capsys):
    fdl = write_fdl(tmp_path, [function(unique_name, unique_name)])
    scope = Scope.parse(f"manual:{unique_name}")
    denied = Aws()
    denied.add_hook(refuse_tag_reads)
    deploy(fdl, scope, denied)
    name = scope.function_name(unique_name)
    assert TAG_CREATED not in boto3.client("lambda").get_function(FunctionName=name)["Tags"]

    assert cli.main(["plan", "-f", str(fdl), "--scope", f"manual:{unique_name}",
                     "--detailed-exitcode"]) == 0
    assert cli.main(["ls", "--all-scopes"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith(scope.label)]
    assert line.split()[:5] == [scope.label, "manual", unique_name, "-", "?"]
    teardown(scope)
