"""The action's image: built from this repository's Dockerfile with podman, offline (the base
substituted by a stand-in made from Debian's packages, udocker's engines served locally and
checked by their git blob id), then run as the Actions runner runs a Docker action: a pull
request preview deployed to LocalStack and torn down, its outputs, summary and comment in the
mounted files and the fake GitHub API, in a workspace owned by neither root nor uid 1001; and
the README's `docker run ... validate`. One image is built for the module."""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
from pathlib import Path

import pytest
from test_action import outputs_of, preview_workflow_inputs, workspace  # noqa: F401 (a fixture)

from scar_ci.aws.session import Aws
from scar_ci.cache import cache_dir
from scar_ci.deploy import engine
from scar_ci.scopes.scope import Scope
from scar_testbed.action_image import (
    RUN_LIMITS,
    TEST_ENGINES_NOTE,
    RunnerStep,
    build_action_image,
    fake_engines,
    serving_file,
    standin_base,
)
from scar_testbed.actions_runner import ROOT, event_copy, input_env
from scar_testbed.fake_github import TOKEN
from scar_testbed.podman import Podman

pytestmark = pytest.mark.integration

IMAGE = "localhost/scar-action:test"
OWNER = 4242  # neither root nor 1001, the uid of GitHub-hosted runners


@pytest.fixture(scope="module")
def podman() -> Podman:
    """podman with its storage kept in the scar-ci cache: the base and the layers whose inputs
    did not change (the hashed lock's install above all) are reused by the next session."""
    return Podman.prepare(cache_dir() / "podman-action-image", driver="overlay")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory):
    """(URL, git blob id) of a test engines tarball on a local HTTP server."""
    path, blob = fake_engines(tmp_path_factory.mktemp("engines"))
    with serving_file(path) as url:
        yield url, blob


@pytest.fixture(scope="module")
def base(podman: Podman) -> str:
    return standin_base(podman)


@pytest.fixture(scope="module")
def action_image(podman: Podman, base: str, engines) -> str:
    """The image, its build stage tagged too so that pruning the images earlier runs left
    behind keeps the layers of the locked install for the next one."""
    build_action_image(podman, f"{IMAGE}-build-stage", base, *engines, target="build")
    build_action_image(podman, IMAGE, base, *engines)
    # --external: a session stopped during a build leaves its build container in the cached
    # storage, and a plain prune then fails on the image that container uses
    podman.run("image", "prune", "--force", "--external")
    return IMAGE


def test_the_image_runs_as_root_with_the_checked_engines(podman, action_image) -> None:
    config = json.loads(podman.run("image", "inspect", action_image).stdout)[0]["Config"]
    assert config.get("User", "") in ("", "0", "root")
    assert config["Entrypoint"] == ["/opt/scar-ci/bin/python", "/opt/scar-ci/entrypoint.py"]
    assert "SCAR_UDOCKER_ENGINE_DIR=/opt/udocker-engines" in config["Env"]
    listed = podman.run("run", "--rm", "--runtime", "/usr/bin/runc", *RUN_LIMITS,
                        "--entrypoint", "/bin/sh", action_image, "-c",
                        "id -u; cat /opt/udocker-engines/bin/README; "
                        "ls /opt/udocker-engines/bin /opt/udocker-engines/lib; "
                        "/opt/scar-ci/bin/python -c 'import udocker; print(udocker.__version__)'")
    assert listed.stdout.splitlines()[:2] == ["0", TEST_ENGINES_NOTE.decode().strip()]
    arch = platform.machine()
    assert {f"patchelf-{arch}", f"libfakechroot-{arch}.so"} <= set(listed.stdout.split())
    assert "1.3.17" in listed.stdout


def test_engines_that_do_not_match_their_blob_id_fail_the_build(podman, base, engines) -> None:
    url, blob = engines
    wrong = "0" * 40
    done = build_action_image(podman, "localhost/scar-action:wrong", base, url, wrong,
                              check=False)
    assert done.returncode != 0
    assert f"has git blob id {blob}, expected {wrong}: refusing it" in done.stdout + done.stderr


def test_validate_as_the_readme_shows_it(podman, action_image) -> None:
    [line] = [line for line in (ROOT / "README.md").read_text().splitlines()
              if line.startswith("docker run ") and " validate " in line]
    argv = shlex.split(line.split("  #")[0].replace('"$PWD:/work"', f"{ROOT}:/work"))
    assert argv[:2] == ["docker", "run"] and "scar-action" in argv
    argv = [IMAGE if arg == "scar-action" else arg for arg in argv[2:]]
    done = podman.run("run", "--runtime", "/usr/bin/runc", *RUN_LIMITS, *argv, check=False)
    assert done.returncode == 0, done.stderr
    assert "examples/pipeline/scar.yaml" in done.stdout + done.stderr


def test_a_pull_request_preview_deployed_and_torn_down_by_the_image(
        podman, action_image, localstack, workspace, fake_github, unique_name,  # noqa: F811
        tmp_path) -> None:
    number = int(unique_name[-7:], 16) % 9_000_000 + 1000
    scope = Scope.pull_request(number, source="grycap/scar-action")
    events = tmp_path / "events"
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    github = {"GITHUB_REF": f"refs/pull/{number}/merge", "GITHUB_API_URL": fake_github.url,
              **aws}
    inputs = input_env(preview_workflow_inputs(), token=TOKEN)
    assert "INPUT_SMOKE-FUNCTION" in inputs  # hyphens kept, as the runner passes them

    steps = {}
    for action, payload in (("opened", "pull_request_opened.json"),
                            ("closed", "pull_request_closed.json")):
        event = event_copy(events / action, payload, number=number)
        step = RunnerStep.prepare(tmp_path / action / "_temp", workspace, event, inputs,
                                  github)
        for path in (workspace, step.temp):
            os.chown(path, OWNER, OWNER)
            for inner in path.rglob("*"):
                os.chown(inner, OWNER, OWNER, follow_symlinks=False)
        done = step.run(podman, action_image)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        steps[action] = step
        if action == "opened":
            deployed = engine.list_deployed(Aws(), scope)
            assert {d.function for d in deployed} == {f"shout--pr-{number}",
                                                      f"count--pr-{number}"}
            api_url = next(d.url for d in deployed if d.url)
            out = outputs_of(step.file("GITHUB_OUTPUT").read_text())
            assert out["api-url"] == api_url and out["invocation-output"].strip() == "4"
            summary = step.file("GITHUB_STEP_SUMMARY").read_text()
            assert summary.startswith(f"### scar-action · preview `pr-{number}`\n")
            [comment] = fake_github.comments[number]
            assert f"**Preview `pr-{number}` is live**" in comment["body"]
            assert re.search(r"::group::smoke test count--pr-\d+", done.stdout)

    assert engine.list_deployed(Aws(), scope) == []
    summary = steps["closed"].file("GITHUB_STEP_SUMMARY").read_text()
    assert summary.startswith(f"### scar-action · teardown `pr-{number}`")
    [comment] = fake_github.comments[number]
    assert f"**Preview `pr-{number}` was torn down**" in comment["body"]
    assert fake_github.statuses[fake_github.deployments[0]["id"]][-1]["state"] == "inactive"
    assert all(path.stat().st_uid == OWNER for path in steps["closed"].temp.rglob("*"))


def test_the_build_context_is_only_what_the_dockerfile_copies() -> None:
    copied = {source for line in (ROOT / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ") and "--from" not in line
              for source in line.split()[1:-1]}
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    assert {Path(c).as_posix().rstrip("/") for c in copied} == allowed
