"""The deploy engine with the docker builder: podman's Docker-compatible service builds the
image and pushes it to the ECR-like registry, the ECR API is moto's server, the function is
LocalStack's; and the choice of builder when no Docker Engine answers.

podman builds are slow (the 94 MB runtime goes into the context, the image and the push), so
the module builds once: the first test deploys, redeploys and tears down the same function.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from deploy_helpers import deploy, teardown
from test_action import run_action
from test_image_build import base_image  # noqa: F401 (a fixture)
from test_image_deploy import ecr, login, write_image_fdl  # noqa: F401 (ecr: a fixture)

from scar_ci import cli
from scar_ci.package.image.registry import RegistryClient
from scar_ci.scopes.scope import Scope
from scar_testbed.fixtures_containers import serve_podman
from scar_testbed.podman import PodmanService
from scar_testbed.registry import Registry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory, registry: Registry,
           ecr_registry: Registry) -> Iterator[PodmanService]:
    """podman's service, allowed the base's registry and the ECR-like one over plain HTTP."""
    yield from serve_podman(tmp_path_factory.mktemp("podman-ecr"), [registry, ecr_registry])


@pytest.fixture(autouse=True)
def _outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("SCAR_CI_IMAGE_BUILDER", raising=False)


def image_lines(text: str, repository: str) -> list[str]:
    """The image builder's progress lines about `repository`."""
    return [line for line in text.splitlines() if line.startswith(f"image {repository}: ")]


def test_docker_builder_deploys_the_pinned_image_and_an_unchanged_redeploy_pushes_nothing(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        podman: PodmanService, unique_name: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", podman.docker_host)
    scope = Scope.parse(f"manual:{unique_name}")
    repository, name = scope.ecr_repository("img"), scope.function_name("img")
    fdl = write_image_fdl(tmp_path, base_image)

    assert cli.main(["deploy", "-f", str(fdl), "--scope", f"manual:{unique_name}",
                     "--image-builder", "docker", "--json"]) == 0

    out, err = capsys.readouterr()
    result = json.loads(out)  # progress stays off stdout
    (image,) = [c for c in result["changes"] if c["kind"] == "image"]
    assert image["action"] == "create" and image["detail"].endswith(" (docker builder)")
    tag_ref = image["detail"].removeprefix("build and push ").removesuffix(" (docker builder)")
    said = image_lines(err, repository)
    assert said[0].startswith(f"image {repository}: runtime layer (Python, awslambdaric) ")
    assert f"image {repository}: pulling base image {base_image} (linux/amd64) into the " \
           "Docker Engine …" in said
    assert f"image {repository}: pulled 1/1 layers, 0 MB" in said  # podman reports no sizes
    assert f"image {repository}: building {tag_ref} with the Docker Engine …" in said
    steps = [line.split(": ", 1)[1] for line in said if " STEP " in line]  # podman's words
    assert [step.split(":", 1)[1].strip() for step in steps[1:3]] == [
        "COPY runtime/ /", "COPY supervisor/ /"], said
    assert f"image {repository}: pushing {tag_ref} …" in said
    live = boto3.client("lambda").get_function(FunctionName=name)
    digest = RegistryClient(ecr_registry.url, login(ecr_registry)).get_manifest(
        repository, tag_ref.rsplit(":", 1)[1]).digest
    assert said[-1] == f"image {repository}: pushed {tag_ref}, digest {digest}"
    assert live["Code"]["ImageUri"] == f"{ecr_registry.host}/{repository}@{digest}"
    assert live["Configuration"]["PackageType"] == "Image"

    lines: list[str] = []
    again, aws = deploy(fdl, scope, builder="docker", say=lines.append)

    assert aws.calls.mutating == []
    assert {c.verb.value for c in again.changes} == {"keep"}
    assert image_lines("\n".join(lines), repository)[-1] == (
        f"image {repository}: {tag_ref} is already in the registry; nothing to build or push")
    assert not [line for line in lines if "pushing" in line or "pushed" in line]
    teardown(scope)


def test_a_missing_base_stops_the_docker_builders_plan_with_the_daemons_reason(
        tmp_path: Path, ecr: Any, registry: Registry, podman: PodmanService,  # noqa: F811
        unique_name: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", podman.docker_host)
    missing = f"{registry.host}/no/such-image:1"
    fdl = write_image_fdl(tmp_path, missing)

    assert cli.main(["plan", "-f", str(fdl), "--scope", f"manual:{unique_name}",
                     "--image-builder", "docker"]) == 1

    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"scar-ci: base image {missing} (linux/amd64) cannot be "
                              "pulled: "), err
    assert err[-1].endswith("; check container.image and the registry login")
    assert [line for line in err if line.startswith("scar-ci:")] == [err[-1]]


def test_docker_without_a_daemon_stops_before_anything_is_made_and_auto_goes_daemonless(
        tmp_path: Path, ecr: Any, base_image: str, unique_name: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_image_fdl(tmp_path, base_image)

    assert cli.main(["deploy", "-f", str(fdl), "--scope", f"manual:{unique_name}",
                     "--image-builder", "docker"]) == 1

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("scar-ci: no Docker Engine answers ("), err
    assert err[0].endswith("start Docker (or podman system service) and check DOCKER_HOST, or "
                           "choose the daemonless builder")
    functions = boto3.client("lambda").list_functions()["Functions"]
    assert scope.function_name("img") not in {f["FunctionName"] for f in functions}
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[scope.ecr_repository("img")])
    roles = boto3.client("iam").list_roles()["Roles"]
    assert not [r for r in roles if unique_name in r["RoleName"]]

    monkeypatch.setenv("SCAR_CI_IMAGE_BUILDER", "auto")
    assert cli.main(["plan", "-f", str(fdl), "--scope", f"manual:{unique_name}", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    (image,) = [c for c in planned["changes"] if c["kind"] == "image"]
    assert image["detail"].endswith(" (daemonless builder)")



def test_the_action_input_chooses_the_builder_before_the_environment_variable(
        tmp_path: Path, ecr: Any, base_image: str, unique_name: str,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("SCAR_CI_IMAGE_BUILDER", "docker")
    write_image_fdl(tmp_path, base_image)
    scope = Scope.parse(f"manual:{unique_name}")
    inputs = {"command": "plan", "scope": f"manual:{unique_name}"}

    refused = run_action(tmp_path, "workflow_dispatch.json", inputs)  # the variable: docker
    planned = run_action(tmp_path, "workflow_dispatch.json",
                         {**inputs, "image-builder": "daemonless"})

    assert refused.code == 1 and "no Docker Engine answers" in refused.stderr, refused.stderr
    assert planned.code == 0, planned.stderr
    repository = scope.ecr_repository("img")
    assert f"image {repository}: runtime layer (Python, awslambdaric) " in planned.stdout
    assert "(daemonless builder)" in planned.summary  # the plan in the job summary
