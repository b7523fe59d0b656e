"""`runtime: image` through the deploy engine: the ECR API on moto's server, the image bytes
on the ECR-like test registry (`SCAR_CI_ECR_REGISTRY`), the function on LocalStack's Lambda.
Here the pushed image is also pulled back and run with udocker against a stand-in of the
Runtime API; test_image_local_run.py invokes the deployed functions themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from deploy_helpers import deploy, teardown, verbs
from test_image_build import (  # noqa: F401 (base_image, multi_arch_base: fixtures)
    base_image,
    multi_arch_base,
    run_function,
)

from scar_ci.aws.ecr import REGISTRY_VARIABLE
from scar_ci.aws.ecr import login as ecr_login
from scar_ci.aws.session import Aws
from scar_ci.commands.remove import remove_functions
from scar_ci.deploy import engine
from scar_ci.deploy.desired import UnsupportedFunction
from scar_ci.fdl import load_fdl
from scar_ci.github.workflow import mask
from scar_ci.package.image.registry import OCI_MANIFEST, Credentials, ImageNotFound, RegistryClient
from scar_ci.scopes.scope import Scope
from scar_ci.secret_sinks import mask_secrets_with
from scar_ci.steps.pipeline import function_rows
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import build_image
from scar_testbed.registry import Registry
from scar_testbed.udocker_env import Udocker

pytestmark = pytest.mark.integration
SCRIPT = 'echo "image function: $(cat /etc/group | wc -l) groups, MODE=$MODE"\n'
EFS = [{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-0123",
        "LocalMountPath": "/mnt/data"}]


@pytest.fixture
def ecr(localstack: Any, moto_aws: Any, ecr_registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> Any:
    """ECR's API on moto, images to the ECR-like registry; returns an ECR client."""
    monkeypatch.setenv(REGISTRY_VARIABLE, ecr_registry.url)
    return moto_aws("ecr")


def make_vpc(name: str) -> dict[str, list[str]]:
    """A VPC with two subnets and a security group in LocalStack's EC2 (Lambda checks them)."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24")["Subnet"]["SubnetId"]
               for n in (1, 2)]
    group = ec2.create_security_group(GroupName=name, Description="scar-ci test",
                                      VpcId=vpc)["GroupId"]
    return {"SubnetIds": subnets, "SecurityGroupIds": [group]}


def write_image_fdl(folder: Path, image: str, memory: int = 512, **more: Any) -> Path:
    """An FDL with one image function `img` running SCRIPT."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.sh").write_text(SCRIPT)
    lam = {"name": "img", "runtime": "image", "init_script": "run.sh", "memory": memory,
           "architectures": ["x86_64"],
           "container": {"image": image, "environment": {"Variables": {"MODE": "gray"}}},
           **more.pop("lambda_settings", {})}
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump({"functions": {"aws": [{"lambda": lam, **more}]}}))
    return path


def login(registry: Registry) -> Credentials:
    assert registry.credentials
    return Credentials(registry.credentials.username, registry.credentials.password)


def test_image_function_plan_apply_redeploy_run_and_teardown(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        udocker: Udocker, unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    repository, name = scope.ecr_repository("img"), scope.function_name("img")
    vpc = make_vpc(unique_name)
    fdl = write_image_fdl(tmp_path, base_image, lambda_settings={"vpc": vpc},
                          ecr={"scan_on_push": True, "keep_images": 3})

    said: list[str] = []
    plan, aws = deploy(fdl, scope, say=said.append)

    progress = [line for line in said if line.startswith(f"image {repository}: ")]
    assert progress[0].startswith(f"image {repository}: runtime layer (Python, awslambdaric) ")
    assert re.fullmatch(rf"image {re.escape(repository)}: pushed (\d)/\1 blobs, \d+ MB sent",
                        progress[-1]), progress  # one line per blob, the last one N/N
    rows = {(c.verb.value, c.kind): c for c in plan.changes}
    assert ("create", "layer") not in rows  # image functions carry the supervisor themselves
    image_line = rows["create", "image"].detail
    assert image_line.startswith(f"build and push {ecr_registry.host}/{repository}:scar-")
    assert image_line.endswith(" (daemonless builder)")
    tag_ref = image_line.removeprefix("build and push ").removesuffix(" (daemonless builder)")
    assert f"image {tag_ref}" in rows["create", "function"].detail
    assert [k for v, k in rows if v == "create"] == ["role", "log group", "repository", "image",
                                                    "function"]
    live = boto3.client("lambda").get_function(FunctionName=name)
    config = live["Configuration"]
    tag = tag_ref.rsplit(":", 1)[1]
    digest = RegistryClient(ecr_registry.url, login(ecr_registry)).get_manifest(
        repository, tag).digest
    assert live["Code"]["ImageUri"] == f"{ecr_registry.host}/{repository}@{digest}"
    assert (config["PackageType"], config["Architectures"], config.get("Layers", [])) == (
        "Image", ["x86_64"], [])
    assert sorted(config["VpcConfig"]["SubnetIds"]) == sorted(vpc["SubnetIds"])
    (row,) = engine.list_deployed(Aws(), scope)
    assert (row.image, row.supervisor) == (tag_ref, "in the image")  # what `ls` shows
    described = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
    assert described["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=repository)[
        "lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == 3
    tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(
        resourceArn=described["repositoryArn"])["tags"]}
    assert (tags["scar-ci:scope"], tags["scar-ci:delete-images"]) == (scope.label, "true")

    again, aws = deploy(fdl, scope)
    assert aws.calls.mutating == []
    assert {v for v, _, _ in verbs(again)} == {"keep"}
    assert next(c.detail for c in again.changes if c.kind == "image") == (
        f"{tag_ref} already in the registry")
    planned, desired = engine.plan_deploy(load_fdl(fdl), scope, Aws())
    (summary_row,) = function_rows(load_fdl(fdl), scope, planned, {}, desired.images)
    assert summary_row.image == tag_ref  # the job summary names the pushed image

    udocker("login", "--username=AWS", f"--password={login(ecr_registry).password}",
            f"--registry={ecr_registry.url}")
    path, body = run_function(udocker, ecr_registry, tag_ref, {})
    assert path.endswith("/response"), body
    assert "image function: 2 groups, MODE=gray" in json.loads(body)

    teardown(scope, delete_data=False)
    assert name not in {f["FunctionName"] for f in
                        boto3.client("lambda").list_functions()["Functions"]}
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[repository])


def test_an_arm64_image_function_deploys_and_its_image_runs_under_emulation(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, multi_arch_base: str,  # noqa: F811
        arm64_udocker: Udocker, unique_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAR_CI_CACHE", str(tmp_path / "cache"))  # runtime assembled here
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_image_fdl(tmp_path / "fdl", f"{multi_arch_base}:multi",
                          lambda_settings={"architectures": ["arm64"]})

    said: list[str] = []
    plan, _ = deploy(fdl, scope, say=said.append)

    progress = "\n".join(said)  # through the command's progress printer
    assert ": assembling the arm64 runtime: downloading" in progress
    assert ": arm64 runtime assembled: Python 3." in progress
    tag_ref = next(c.detail for c in plan.changes if c.kind == "image").removeprefix(
        "build and push ").removesuffix(" (daemonless builder)")
    config = boto3.client("lambda").get_function(
        FunctionName=scope.function_name("img"))["Configuration"]
    assert (config["PackageType"], config["Architectures"]) == ("Image", ["arm64"])
    assert list((tmp_path / "cache" / "runtimes").glob("arm64-*/runtime.json"))
    registry = RegistryClient(ecr_registry.url, login(ecr_registry))
    repository, tag = tag_ref.split("/", 1)[1].rsplit(":", 1)
    manifest = registry.get_manifest(repository, tag).json()
    image_config = json.loads(registry.get_blob(repository, manifest["config"]["digest"]))  # type: ignore[index]
    assert image_config["architecture"] == "arm64"
    arm64_udocker("login", "--username=AWS", f"--password={login(ecr_registry).password}",
                  f"--registry={ecr_registry.url}")
    path, body = run_function(arm64_udocker, ecr_registry, tag_ref, {})
    assert path.endswith("/response"), body
    assert "image function: 2 groups, MODE=gray" in json.loads(body)
    teardown(scope, delete_data=False)


def test_a_changed_script_pushes_a_new_image_and_rm_removes_the_repository(
        tmp_path: Path, ecr: Any, base_image: str,  # noqa: F811
        unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_image_fdl(tmp_path, base_image)
    deploy(fdl, scope)
    lambda_ = boto3.client("lambda")
    first = lambda_.get_function(FunctionName=scope.function_name("img"))["Code"]["ImageUri"]
    (tmp_path / "run.sh").write_text("echo changed\n")

    plan, aws = deploy(fdl, scope)

    changed = {(c.verb.value, c.kind) for c in plan.mutating}
    assert changed == {("create", "image"), ("update", "function")}
    assert [op for _, op in aws.calls.mutating] == ["UpdateFunctionCode", "TagResource"]
    now = lambda_.get_function(FunctionName=scope.function_name("img"))["Code"]["ImageUri"]
    assert now != first and now.rsplit("@", 1)[0] == first.rsplit("@", 1)[0]

    remove_functions(Aws(), scope, {scope.function_name("img")}, say=lambda _: None)  # rm
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[scope.ecr_repository("img")])
    teardown(scope)


def test_efs_settings_go_to_create_function(tmp_path: Path, ecr: Any, unique_name: str,
                                            base_image: str) -> None:  # noqa: F811
    """LocalStack accepts FileSystemConfigs but neither checks nor stores them: the request
    itself is what can be checked."""
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_image_fdl(tmp_path, base_image, lambda_settings={"file_system": EFS})
    sent: list[dict[str, Any]] = []
    aws = Aws()
    aws.add_hook(lambda model, params, **_: sent.append(json.loads(params["body"]))
                 if model.name == "CreateFunction" else None)  # the request as sent

    deploy(fdl, scope, aws)

    assert [p["FileSystemConfigs"] for p in sent] == [EFS]
    assert sent[0]["PackageType"] == "Image"
    teardown(scope)


def test_production_keeps_its_repository_unless_delete_image_is_true(
        tmp_path: Path, ecr: Any, base_image: str,  # noqa: F811
        unique_name: str) -> None:
    production = Scope.production(source=unique_name)
    fdl = write_image_fdl(tmp_path, base_image, lambda_settings={"name": unique_name})
    plan, _ = deploy(fdl, production)
    repository = production.ecr_repository(unique_name)
    assert ("create", "repository", repository) in verbs(plan)

    torn = teardown(production, delete_data=False)
    assert ("DeleteRepository" not in {op for _, op in torn.calls.mutating})
    ecr.describe_repositories(repositoryNames=[repository])  # still there, images too
    teardown(production, delete_data=True)
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[repository])


def test_create_image_false_deploys_the_given_ecr_image_pinned_and_makes_no_repository(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, unique_name: str) -> None:
    image = build_image(STANDARD_IMAGE)
    digest = RegistryClient(ecr_registry.url, login(ecr_registry)).push_image(
        "prepared/busybox", "1", image.manifest(), OCI_MANIFEST, image.blobs).manifest_digest
    scope = Scope.parse(f"manual:{unique_name}")
    given = f"{ecr_registry.host}/prepared/busybox:1"  # in "the account's ECR": needs its login
    fdl = write_image_fdl(tmp_path, given, lambda_settings={
        "container": {"image": given, "create_image": False}})

    plan, _ = deploy(fdl, scope)

    assert "repository" not in {kind for _, kind, _ in verbs(plan)}
    live = boto3.client("lambda").get_function(FunctionName=scope.function_name("img"))
    assert live["Code"]["ImageUri"] == f"{ecr_registry.host}/prepared/busybox@{digest}"
    teardown(scope)


def test_an_image_function_needs_a_registry_image(tmp_path: Path, localstack: Any,
                                                  unique_name: str) -> None:
    (tmp_path / "image.tar").write_bytes(b"")
    fdl = write_image_fdl(tmp_path, "", lambda_settings={"container": {"image_file": "image.tar"}})
    with pytest.raises(UnsupportedFunction, match=r"container\.image_file works with"):
        deploy(fdl, Scope.parse(f"manual:{unique_name}"))


def test_a_missing_base_image_stops_the_plan_before_anything_is_created(
        tmp_path: Path, ecr: Any, registry: Registry, unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_image_fdl(tmp_path, f"{registry.host}/no/such-image:1")
    aws = Aws()
    with pytest.raises(ImageNotFound, match=r"container\.image"):
        deploy(fdl, scope, aws)
    assert aws.calls.mutating == []


def test_a_zip_function_turned_image_function_is_replaced(
        tmp_path: Path, ecr: Any, base_image: str,  # noqa: F811
        unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_image_fdl(tmp_path, base_image, lambda_settings={"runtime": "python3.12"})
    deploy(fdl, scope)
    write_image_fdl(tmp_path, base_image)

    plan, _ = deploy(fdl, scope)

    (change,) = [c for c in plan.changes if c.kind == "function"]
    assert (change.verb.value, change.detail.split(",")[0]) == ("update", "package Zip -> Image")
    live = boto3.client("lambda").get_function(FunctionName=scope.function_name("img"))
    assert live["Configuration"]["PackageType"] == "Image"
    teardown(scope)


def test_the_ecr_login_is_masked_under_actions(ecr: Any, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    mask_secrets_with(mask)  # as the CLI and the action do
    credentials = ecr_login(Aws())
    masks = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("::add-mask::")]
    assert f"::add-mask::{credentials.password}" in masks
