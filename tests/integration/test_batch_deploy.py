"""`execution_mode: batch`, control plane: the compute environment, job queue and job
definition on moto's Batch, the job image on the ECR-like registry, the function (a zip that
submits) and its role on LocalStack."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from batch_helpers import batch_network, write_batch_fdl
from botocore.exceptions import ClientError
from command_helpers import scar
from deploy_helpers import deploy, package_file, teardown, verbs
from test_image_build import base_image  # noqa: F401 (a fixture)
from test_image_deploy import ecr, login  # noqa: F401 (ecr: a fixture)

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.deploy.apply import ApplyFailed
from scar_ci.errors import UserError
from scar_ci.fdl import load_fdl
from scar_ci.package.image.registry import RegistryClient
from scar_ci.scopes.scope import Scope
from scar_ci.supervisor.batch_submit import submit_job
from scar_ci.supervisor.config import BatchTarget, load_config
from scar_testbed.registry import Registry

pytestmark = pytest.mark.integration


def test_batch_function_deploy_redeploy_new_revision_and_teardown(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        moto_server: Any, unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    name, repository = scope.batch_name("job"), scope.ecr_repository("job")
    network = batch_network(moto_server.url, unique_name)
    fdl = write_batch_fdl(tmp_path, base_image, unique_name, network)

    plan, _ = deploy(fdl, scope)

    created = [k for v, k, _ in verbs(plan) if v == "create"]
    assert created == ["role", "log group", "bucket", "layer", "repository", "image",
                       "job image", "compute env", "job queue", "job definition", "function",
                       "trigger"] or created == [
        "role", "log group", "bucket", "repository", "image", "job image", "compute env",
        "job queue", "job definition", "function", "trigger"]  # the layer may exist already
    batch = boto3.client("batch")
    (environment,) = batch.describe_compute_environments(
        computeEnvironments=[name])["computeEnvironments"]
    resources = environment["computeResources"]
    assert (environment["state"], environment["serviceRole"]) == (
        "ENABLED", network["service_role"])
    assert (resources["type"], resources["maxvCpus"], resources["instanceTypes"]) == (
        "EC2", 4, ["m3.medium"])  # SCAR's default instance type
    assert environment["tags"]["scar-ci:scope"] == scope.label
    (queue,) = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    assert queue["computeEnvironmentOrder"][0]["computeEnvironment"].rsplit("/")[-1] == name
    (definition,) = batch.describe_job_definitions(jobDefinitionName=name,
                                                   status="ACTIVE")["jobDefinitions"]
    container = definition["containerProperties"]
    job_tag = next(c.detail for c in plan.changes if c.kind == "job image").split()[1]
    assert job_tag.startswith(f"{ecr_registry.host}/{repository}:scar-")
    assert job_tag.endswith("-batch")
    client = RegistryClient(ecr_registry.url, login(ecr_registry))
    job_manifest = client.get_manifest(repository, job_tag.rsplit(":", 1)[1])
    assert container["image"] == f"{ecr_registry.host}/{repository}@{job_manifest.digest}"
    config = json.loads(client.get_blob(repository, job_manifest.json()["config"]["digest"]))
    assert config["config"]["Entrypoint"][-2:] == ["-m", "scar_ci.supervisor.batch_job"]
    function_manifest = client.get_manifest(repository, job_tag.rsplit(":", 1)[1].removesuffix(
        "-batch")).json()
    assert job_manifest.json()["layers"] == function_manifest["layers"]  # the same layers
    needs = {r["type"]: r["value"] for r in container["resourceRequirements"]}
    assert needs == {"VCPU": "1", "MEMORY": "2048"}
    role = boto3.client("iam").get_role(RoleName=scope.role_name("scar-ci-job"))["Role"]
    assert container["jobRoleArn"] == role["Arn"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"]["Service"] == [
        "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]
    policy = boto3.client("iam").get_role_policy(RoleName=role["RoleName"],
                                                 PolicyName="scar-ci")["PolicyDocument"]
    submit = next(s for s in policy["Statement"] if s["Sid"] == "SubmitBatchJobs")
    assert submit["Action"] == ["batch:SubmitJob"]
    assert any(r.endswith(f":job-queue/{name}") for r in submit["Resource"])

    again, aws = deploy(fdl, scope)
    assert aws.calls.mutating == []
    assert {v for v, _, _ in verbs(again)} == {"keep"}

    more = write_batch_fdl(tmp_path / "more", base_image, unique_name,
                           {**network, "memory": 4096})
    changed, aws = deploy(more, scope)
    assert [(v, k) for v, k, _ in verbs(changed) if v != "keep"] == [
        ("update", "job definition")]
    assert next(c.detail for c in changed.changes if c.kind == "job definition") == (
        "memory 2048 -> 4096")
    assert [c for c in aws.calls.mutating if c[0] == "batch"] == [
        ("batch", "RegisterJobDefinition"), ("batch", "DeregisterJobDefinition")]
    (revision,) = batch.describe_job_definitions(jobDefinitionName=name,
                                                 status="ACTIVE")["jobDefinitions"]
    assert revision["revision"] == definition["revision"] + 1

    spot = write_batch_fdl(tmp_path / "spot", base_image, unique_name, {**network, "memory": 4096,
                           "compute_resources": {**network["compute_resources"], "type": "SPOT"}})
    aws = Aws()
    with pytest.raises(UserError) as refused:
        engine.plan_deploy(load_fdl(spot), scope, aws)
    assert str(refused.value) == (f"compute env {name}: Batch cannot change its type (EC2 -> "
                                  "SPOT); run teardown, then deploy")
    assert aws.calls.mutating == []

    document = yaml.safe_load(more.read_text())  # back to Lambda alone
    document["functions"]["aws"][0]["lambda"]["execution_mode"] = "lambda"
    (lambda_only := more.with_name("lambda.yaml")).write_text(yaml.safe_dump(document))
    back, _ = deploy(lambda_only, scope)
    assert {("update", "role"), ("delete", "compute env"), ("delete", "job queue"),
            ("delete", "job definition")} <= {(v, k) for v, k, _ in verbs(back)}
    trust = boto3.client("iam").get_role(RoleName=role["RoleName"])["Role"][
        "AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"]["Service"] == "lambda.amazonaws.com"
    assert batch.describe_compute_environments(
        computeEnvironments=[name])["computeEnvironments"] == []
    batch_fdl = write_batch_fdl(tmp_path / "again", base_image, unique_name, network)
    deploy(batch_fdl, scope)  # and batch again, for the teardown below

    teardown(scope, delete_data=True)
    assert batch.describe_job_definitions(jobDefinitionName=name,
                                          status="ACTIVE")["jobDefinitions"] == []
    assert batch.describe_job_queues(jobQueues=[name])["jobQueues"] == []
    assert batch.describe_compute_environments(
        computeEnvironments=[name])["computeEnvironments"] == []


def test_batch_without_subnets_is_one_message_before_any_aws_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    fdl = write_batch_fdl(tmp_path, "busybox:1", "scar-t-none", {"memory": 1024})
    code, out, err = scar(capsys, "plan", "-f", str(fdl), "--scope", "manual:t")
    assert (code, out) == (2, "")
    line = f"{fdl}:"
    assert err.startswith("scar-ci: " + line) and err.count("\n") == 1, err
    assert ("execution_mode 'batch' needs batch.compute_resources.subnets and "
            "batch.compute_resources.security_group_ids") in err


def test_batch_where_no_batch_answers_is_one_message_and_nothing_created(
        tmp_path: Path, localstack: Any, unique_name: str) -> None:
    network = {"compute_resources": {"subnets": ["subnet-1"], "security_group_ids": ["sg-1"]}}
    fdl = write_batch_fdl(tmp_path, "busybox:1", unique_name, network)
    aws = Aws()
    with pytest.raises(UserError) as refused:
        engine.deploy(load_fdl(fdl), Scope.parse(f"manual:{unique_name}"), aws,
                      say=lambda _: None)
    assert str(refused.value).startswith(
        f"AWS Batch does not answer at {os.environ['AWS_ENDPOINT_URL']} (LocalStack's "
        "community edition has no Batch)")
    assert aws.calls.mutating == []


BATCH_STEPS = ("CreateComputeEnvironment", "CreateJobQueue", "RegisterJobDefinition")


class FaultOn:
    """A botocore before-call hook failing the first call of `operation`, like AWS would."""

    def __init__(self, operation: str) -> None:
        self.operation, self.failed = operation, False

    def __call__(self, model: Any, **_: Any) -> None:
        if model.name == self.operation and not self.failed:
            self.failed = True
            raise ClientError({"Error": {"Code": "InjectedFault", "Message": "injected"}},
                              model.name)


def test_a_batch_deploy_or_teardown_failing_at_a_batch_step_is_finished_by_the_next_run(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        moto_server: Any, unique_name: str) -> None:
    fdl = write_batch_fdl(tmp_path, base_image, unique_name,
                          batch_network(moto_server.url, unique_name))
    for operation in BATCH_STEPS:
        scope = Scope.parse(f"manual:{unique_name}-{operation[:8].lower()}")
        aws = Aws()
        aws.add_hook(FaultOn(operation))
        with pytest.raises(ApplyFailed) as failed:
            deploy(fdl, scope, aws)
        assert "run `scar-ci deploy` again" in str(failed.value)
        deploy(fdl, scope)
        _, again = deploy(fdl, scope)
        assert again.calls.mutating == [], f"not converged after a fault at {operation}"
        teardown(scope)

    scope = Scope.parse(f"manual:{unique_name}-down")
    deploy(fdl, scope)
    aws = Aws()
    aws.add_hook(FaultOn("DeleteComputeEnvironment"))  # the queue is gone, the environment not
    with pytest.raises(ApplyFailed, match="teardown stopped"):
        teardown(scope, aws)
    assert [r.kind for r in engine.discover(Aws(), scope)
            if r.kind.startswith(("job", "compute"))] == ["compute env"]
    teardown(scope)
    assert engine.discover(Aws(), scope) == []


def test_rm_of_a_batch_function_removes_its_compute_environment_queue_and_definition(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        moto_server: Any, unique_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    scope = Scope.parse(f"manual:{unique_name}-rm")
    name = scope.batch_name("job")
    fdl = write_batch_fdl(tmp_path, base_image, unique_name,
                          batch_network(moto_server.url, unique_name))
    deploy(fdl, scope)

    code, out, err = scar(capsys, "rm", "-n", scope.function_name("job"))

    assert code == 0, err
    assert f"deleted compute env {name}" in out and f"deleted job queue {name}" in out
    batch = boto3.client("batch")
    assert batch.describe_job_definitions(jobDefinitionName=name,
                                          status="ACTIVE")["jobDefinitions"] == []
    assert batch.describe_job_queues(jobQueues=[name])["jobQueues"] == []
    assert batch.describe_compute_environments(
        computeEnvironments=[name])["computeEnvironments"] == []
    assert [r.kind for r in engine.discover(Aws(), scope)] == ["bucket"]  # buckets stay
    teardown(scope, delete_data=True)


def test_a_multi_node_function_is_scars_multinode_job_definition_and_its_jobs_reach_each_node(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        moto_server: Any, unique_name: str) -> None:
    """SCAR's MPI example (examples/mpi/batch.yaml: 3 nodes, main node 0) on moto's Batch."""
    scope = Scope.parse(f"manual:{unique_name}-mpi")
    name = scope.batch_name("job")
    network = batch_network(moto_server.url, unique_name)
    parallel = {"enabled": True, "number_nodes": 3, "main_node_index": 0}
    fdl = write_batch_fdl(tmp_path, base_image, unique_name,
                          {**network, "multi_node_parallel": parallel})

    plan, _ = deploy(fdl, scope)

    assert next(c.detail for c in plan.changes if c.kind == "job definition") == (
        "1 vCPU, 2048 MB, 3 nodes (main 0)")
    batch = boto3.client("batch")
    (definition,) = batch.describe_job_definitions(jobDefinitionName=name,
                                                   status="ACTIVE")["jobDefinitions"]
    assert definition["type"] == "multinode" and "containerProperties" not in definition
    nodes = definition["nodeProperties"]
    assert (nodes["numNodes"], nodes["mainNode"]) == (3, 0)
    (every,) = nodes["nodeRangeProperties"]
    assert every["targetNodes"] == "0:"
    assert every["container"]["image"].startswith(f"{ecr_registry.host}/")
    assert "@sha256:" in every["container"]["image"]  # the job image, pinned
    assert {r["type"]: r["value"] for r in every["container"]["resourceRequirements"]} == {
        "VCPU": "1", "MEMORY": "2048"}

    again, aws = deploy(fdl, scope)
    assert aws.calls.mutating == []
    assert {v for v, _, _ in verbs(again)} == {"keep"}

    four = write_batch_fdl(tmp_path / "four", base_image, unique_name, {
        **network, "multi_node_parallel": {**parallel, "number_nodes": 4, "main_node_index": 3}})
    changed, aws = deploy(four, scope)
    assert [(v, k) for v, k, _ in verbs(changed) if v != "keep"] == [
        ("update", "job definition")]
    assert next(c.detail for c in changed.changes if c.kind == "job definition") == (
        "nodes 3 -> 4, main_node 0 -> 3")
    (revision,) = batch.describe_job_definitions(jobDefinitionName=name,
                                                 status="ACTIVE")["jobDefinitions"]
    assert revision["revision"] == definition["revision"] + 1
    assert (revision["nodeProperties"]["numNodes"], revision["nodeProperties"]["mainNode"]) == (
        4, 3)

    (tmp_path / "scar-function.json").write_bytes(
        package_file(scope.function_name("job"), "scar-function.json"))
    config = load_config(tmp_path / "scar-function.json")
    assert config.batch == BatchTarget("batch", name, name, multi_node=True)
    event = {"Records": [{"s3": {"bucket": {"name": unique_name},
                                 "object": {"key": "input/hello.txt"}}}]}
    answer = submit_job(config.batch, config.name, event, "req-mpi")  # the function's call
    (job,) = batch.describe_jobs(jobs=[answer["batch_job_id"]])["jobs"]
    assert job["jobDefinition"] == revision["jobDefinitionArn"]
    assert job["nodeProperties"]["numNodes"] == 4

    teardown(scope, delete_data=True)
    assert batch.describe_job_definitions(jobDefinitionName=name,
                                          status="ACTIVE")["jobDefinitions"] == []

