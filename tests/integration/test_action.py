"""The action end to end: entrypoint.py run as the runner runs the container (INPUT_* from
action.yml, GITHUB_EVENT_PATH at recorded payloads, output and summary files) against
LocalStack, with the pull request comment and Deployment going to the fake GitHub API."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from test_deploy_e2e import pipeline_for_the_test_bed
from test_image_build import base_image  # noqa: F401 (a fixture)
from test_image_local_run import image_fdl

from scar_ci.aws.ecr import REGISTRY_VARIABLE
from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.scopes.scope import Scope, ScopeKind
from scar_testbed.actions_runner import ROOT, event_copy, input_env, step_env
from scar_testbed.fake_github import TOKEN, FakeGitHub
from scar_testbed.moto_server import endpoint_variables

pytestmark = pytest.mark.integration

PREVIEW = ROOT / ".github" / "workflows" / "preview.yml"
FDL = "examples/pipeline/scar.yaml"


@dataclass
class StepResult:
    code: int
    stdout: str
    stderr: str
    summary: str
    outputs: str


def run_action(workspace: Path, payload: str | Path, inputs: dict[str, str],
               github: FakeGitHub | None = None, **variables: str) -> StepResult:
    """entrypoint.py in `workspace`, as the runner starts the action's container."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(input_env(inputs, token=TOKEN))
    env.update(step_env(workspace, payload, **variables))
    if github:
        env["GITHUB_API_URL"] = github.url
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        Path(env[name]).write_text("")
    done = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return StepResult(done.returncode, done.stdout, done.stderr,
                      Path(env["GITHUB_STEP_SUMMARY"]).read_text(),
                      Path(env["GITHUB_OUTPUT"]).read_text())


def outputs_of(text: str) -> dict[str, str]:
    """The `name<<DELIM ... DELIM` blocks of a GITHUB_OUTPUT file."""
    values, lines = {}, iter(text.splitlines())
    for line in lines:
        name, delimiter = line.split("<<", 1)
        values[name] = "\n".join(iter(lambda: next(lines), delimiter))
    return values


def preview_workflow_inputs() -> dict[str, str]:
    """The `with:` of the scar-action step of the example workflow (the README's)."""
    workflow = yaml.safe_load(PREVIEW.read_text())
    [step] = [s for s in workflow["jobs"]["scar"]["steps"] if s.get("uses") == "./"]
    return {name: str(value) for name, value in step["with"].items()}


@pytest.fixture
def workspace(tmp_path, test_image_archives) -> Path:
    """A checkout with the pipeline example (its containers runnable here) and a README
    for the smoke test, at the paths the example workflow names."""
    folder = tmp_path / "workspace"
    (folder / "examples" / "pipeline").mkdir(parents=True)
    pipeline_for_the_test_bed(folder / "examples" / "pipeline", test_image_archives["docker"])
    (folder / "README.md").write_text("one two three four\n")
    return folder


def test_pull_request_preview_lives_is_updated_and_goes(localstack, workspace, fake_github,
                                                         unique_name) -> None:
    number = int(unique_name[-7:], 16) % 9_000_000 + 1000
    events, ref = workspace.parent / "events", f"refs/pull/{number}/merge"
    opened = event_copy(events / "opened", "pull_request_opened.json", number=number)
    closed = event_copy(events / "closed", "pull_request_closed.json", number=number)
    scope = Scope.pull_request(number, source="grycap/scar-action")
    inputs = preview_workflow_inputs()

    first = run_action(workspace, opened, inputs, fake_github, GITHUB_REF=ref)
    assert first.code == 0, first.stderr
    deployed = engine.list_deployed(Aws(), scope)
    assert {d.function for d in deployed} == {f"shout--pr-{number}", f"count--pr-{number}"}
    api_url = next(d.url for d in deployed if d.url)

    out = outputs_of(first.outputs)
    assert out["api-url"] == api_url
    assert out["invocation-output"].strip() == "4"
    functions = {f["name"]: f for f in json.loads(out["functions"])}
    assert functions["count"]["arn"].endswith(f":function:count--pr-{number}")
    assert functions["count"]["api_url"] == api_url and functions["shout"]["api_url"] == ""
    assert {c["action"] for c in json.loads(out["plan"])["changes"]} <= {"create", "keep"}

    assert first.summary.startswith(f"### scar-action · preview `pr-{number}`\n")
    assert f"| count--pr-{number} | udocker | image.tar | 256 MB | {api_url} | created |" in (
        first.summary)
    assert "<details><summary>Plan applied:" in first.summary
    assert f"**Smoke test** `count--pr-{number}` ← `README.md`: ok in" in first.summary
    assert "```text\n4\n```" in first.summary
    assert (f"[Logs of count--pr-{number}](https://us-east-1.console.aws.amazon.com/cloudwatch/"
            f"home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fcount--pr-"
            f"{number})") in first.summary
    for step in ("validate examples/pipeline/scar.yaml", "build packages and plan", "apply",
                 f"smoke test count--pr-{number}", "pull request comment and deployment"):
        assert f"::group::{step}\n" in first.stdout and f"done: {step} (" in first.stdout

    [comment] = fake_github.comments[number]
    assert f"**Preview `pr-{number}` is live**" in comment["body"] and api_url in comment["body"]
    assert f"s3://{scope.bucket('scar-pipeline')}/input/" in comment["body"]
    assert f"- smoke test of `count--pr-{number}`: ok" in comment["body"]
    [deployment] = fake_github.deployments
    assert (deployment["environment"], deployment["ref"]) == (f"pr-{number}",
                                                              "feature/faster-thumbs")
    assert fake_github.statuses[deployment["id"]][0]["environment_url"] == api_url

    again = run_action(workspace, opened, {**inputs, "smoke-test": "false"}, fake_github,
                       GITHUB_REF=ref, GITHUB_SHA="1234567" + "0" * 33)
    assert again.code == 0, again.stderr
    assert {c["action"] for c in json.loads(outputs_of(again.outputs)["plan"])["changes"]} == {
        "keep"}
    assert "| unchanged |" in again.summary and "Smoke test" not in again.summary
    [edited] = fake_github.comments[number]
    assert edited["id"] == comment["id"] and "`1234567`" in edited["body"]
    assert ("PATCH", f"/repos/grycap/scar-action/issues/comments/{comment['id']}") in (
        fake_github.mutating())

    gone = run_action(workspace, closed, inputs, fake_github, GITHUB_REF=ref)
    assert gone.code == 0, gone.stderr
    assert engine.list_deployed(Aws(), scope) == []
    assert engine.plan_teardown(scope, Aws()).changes == ()
    assert gone.summary.startswith(f"### scar-action · teardown `pr-{number}`")
    assert "<details><summary>Torn down:" in gone.summary
    [comment] = fake_github.comments[number]
    assert f"**Preview `pr-{number}` was torn down**" in comment["body"]
    assert fake_github.statuses[deployment["id"]][-1]["state"] == "inactive"


def test_a_fork_pull_request_is_refused_before_any_call(workspace, fake_github) -> None:
    result = run_action(workspace, "pull_request_fork.json", {}, fake_github,
                        AWS_ENDPOINT_URL="http://127.0.0.1:9")
    assert result.code == 1
    assert "pull request #57 comes from" in result.stderr and "allow-forks: true" in result.stderr
    assert "::error::pull request #57 comes from" in result.stdout
    assert result.summary.startswith("### scar-action · failed")
    assert fake_github.calls == [] and result.outputs == ""


def test_a_release_deploys_its_tag_and_a_failing_smoke_test_fails_the_step(
        localstack, workspace, unique_name) -> None:
    tag = f"v1.2.0-{unique_name[-6:]}"
    release = event_copy(workspace.parent / "events", "release_published.json", tag_name=tag)
    script = base64.b64encode(b"echo about to fail\nexit 3\n").decode()
    variables = {"GITHUB_REF": f"refs/tags/{tag}", "GITHUB_REF_NAME": tag}
    result = run_action(workspace, release, {"fdl": FDL,
                                             "smoke-payload": json.dumps({"script": script})},
                        **variables)
    scope = Scope.named(ScopeKind.TAG, tag, "grycap/scar-action")
    assert {d.function for d in engine.list_deployed(Aws(), scope)} == {
        scope.function_name("shout"), scope.function_name("count")}
    assert result.code == 1
    assert f"the smoke test of {scope.function_name('shout')} failed" in result.stderr
    assert f"### scar-action · release `{scope.stage}`" in result.summary
    assert "**failed**" in result.summary and "about to fail" in result.summary
    assert "about to fail" in outputs_of(result.outputs)["invocation-output"]

    planned = run_action(workspace, release, {"fdl": FDL, "command": "plan"}, **variables)
    assert planned.code == 0, planned.stderr
    assert {c["action"] for c in json.loads(outputs_of(planned.outputs)["plan"])["changes"]} == {
        "keep"}
    assert "<details><summary>Plan (not applied): 11 unchanged</summary>" in planned.summary

    invoked = run_action(workspace, release, {"fdl": FDL, "command": "invoke",
                                              "smoke-function": "count",
                                              "smoke-file": "README.md"}, **variables)
    assert invoked.code == 0, invoked.stderr
    assert outputs_of(invoked.outputs) == {"invocation-output": "4\n"}
    assert f"**Smoke test** `{scope.function_name('count')}` ← `README.md`: ok" in (
        invoked.summary)

    # The FDL is gone by the time the release is deleted: the teardown still finds it all.
    down = run_action(workspace, release, {"fdl": "gone.yaml", "command": "teardown",
                                           "delete-data": "true"}, **variables)
    assert down.code == 0, down.stderr
    assert engine.list_deployed(Aws(), scope) == []
    assert engine.plan_teardown(scope, Aws()).changes == ()


def test_an_image_function_preview_is_built_smoke_tested_and_goes_with_its_images(
        localstack, moto_server, ecr_registry, base_image, tmp_path,  # noqa: F811
        fake_github, unique_name, monkeypatch) -> None:
    """`runtime: image` through the action: the image built and pushed to the (ECR-like)
    registry, the function run by the smoke test, the summary naming the pushed image, and
    the pull request's close removing the function and its repository."""
    number = int(unique_name[-7:], 16) % 9_000_000 + 1000
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    image_fdl(workspace, unique_name, base_image)
    (workspace / "README.md").write_text("one two\n")
    events, ref = tmp_path / "events", f"refs/pull/{number}/merge"
    opened = event_copy(events / "opened", "pull_request_opened.json", number=number)
    closed = event_copy(events / "closed", "pull_request_closed.json", number=number)
    services = {**endpoint_variables(moto_server.url), REGISTRY_VARIABLE: ecr_registry.url}
    for name, value in services.items():  # for this process's checks too
        monkeypatch.setenv(name, value)
    inputs = {"fdl": "scar.yaml", "smoke-function": "shout", "smoke-file": "README.md",
              "image-builder": "daemonless"}
    scope = Scope.pull_request(number, source="grycap/scar-action")

    first = run_action(workspace, opened, inputs, fake_github, GITHUB_REF=ref)
    assert first.code == 0, first.stderr
    assert outputs_of(first.outputs)["invocation-output"] == "shouted api_event_file\n"
    pushed = f"{ecr_registry.host}/shout/pr-{number}:scar-"
    assert f"| shout--pr-{number} | image | {pushed}" in first.summary
    assert f"**Smoke test** `shout--pr-{number}` ← `README.md`: ok in" in first.summary
    assert boto3.client("s3").get_object(Bucket=scope.bucket(unique_name),
                                         Key="output/api_event_file")["Body"].read() == b"ONE TWO\n"

    gone = run_action(workspace, closed, inputs, fake_github, GITHUB_REF=ref)
    assert gone.code == 0, gone.stderr
    assert engine.list_deployed(Aws(), scope) == []
    assert engine.plan_teardown(scope, Aws()).changes == ()
    with pytest.raises(ClientError, match="RepositoryNotFound"):
        boto3.client("ecr").describe_repositories(repositoryNames=[f"shout/pr-{number}"])
