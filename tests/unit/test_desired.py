"""The desired state of every resource kind, from an FDL file and an account value alone (no
AWS, no LocalStack): names, settings, tags and what each resource depends on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scar_ci.aws.session import Account
from scar_ci.deploy.desired import Desired, UnsupportedFunction, desired_state
from scar_ci.deploy.plan import DependencyCycle, ordered
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope

ACCOUNT = Account("eu-west-1", "123456789012")
LAYER = (lambda: b"layer zip", "ab" * 32)
SCOPE = Scope.parse("pr-7", source="owner/repo")
NETWORK = {"subnets": ["subnet-1"], "security_group_ids": ["sg-1"]}


def _fdl(tmp_path: Path) -> Path:
    (tmp_path / "run.sh").write_text("echo hi\n")
    functions: list[dict[str, Any]] = [
        {"lambda": {"name": "zip", "init_script": "run.sh", "memory": 1024,
                    "container": {"image": "busybox:1"},
                    "input": [{"storage_provider": "s3", "path": "data/in"}],
                    "output": [{"storage_provider": "s3", "path": "data/out"},
                               {"storage_provider": "minio.lab", "path": "results"}]},
         "api_gateway": {"name": "zip-api"}},
        {"lambda": {"name": "img", "runtime": "image", "init_script": "run.sh",
                    "container": {"image": "registry.example.org/base:1"},
                    "input": [{"storage_provider": "s3", "path": "data/out"}]}},
        {"lambda": {"name": "job", "init_script": "run.sh", "execution_mode": "batch",
                    "container": {"image": "registry.example.org/base:1"}},
         "batch": {"memory": 2048, "compute_resources": NETWORK}},
    ]
    path = tmp_path / "scar.yaml"
    path.write_text(yaml.safe_dump({
        "functions": {"aws": functions},
        "storage_providers": {"minio": {"lab": {"endpoint": "https://minio.example.org",
                                                "access_key": "AK", "secret_key": "SK"}}}}))
    return path


@pytest.fixture
def desired(tmp_path: Path) -> Desired:
    return desired_state(load_fdl(_fdl(tmp_path)), SCOPE, ACCOUNT, LAYER)


def _one(desired: Desired, kind: str, name: str) -> Any:
    (found,) = [r for r in desired.resources if r.key == (kind, name)]
    return found


def test_every_kind_is_wanted_with_scoped_names(desired: Desired) -> None:
    names = {(r.kind, r.name) for r in desired.resources}
    zip_name, img, job = (SCOPE.function_name(n) for n in ("zip", "img", "job"))
    assert names == {
        ("role", SCOPE.role_name("scar-ci-zip")), ("role", SCOPE.role_name("scar-ci-img")),
        ("role", SCOPE.role_name("scar-ci-job")),
        ("log group", f"/aws/lambda/{zip_name}"), ("log group", f"/aws/lambda/{img}"),
        ("log group", f"/aws/lambda/{job}"),
        ("secret", f"/scar-ci/{zip_name}/storage-credentials"),
        ("bucket", SCOPE.bucket("data")), ("layer", "scar-ci-supervisor"),
        ("repository", SCOPE.ecr_repository("img")), ("image", SCOPE.ecr_repository("img")),
        ("repository", SCOPE.ecr_repository("job")), ("image", SCOPE.ecr_repository("job")),
        ("job image", SCOPE.ecr_repository("job")), ("compute env", SCOPE.batch_name("job")),
        ("job queue", SCOPE.batch_name("job")), ("job definition", SCOPE.batch_name("job")),
        ("function", zip_name), ("function", img), ("function", job),
        ("trigger", f"{SCOPE.bucket('data')}/in -> {zip_name}"),
        ("trigger", f"{SCOPE.bucket('data')}/out -> {img}"),
        ("api", SCOPE.api_name("zip-api"))}


def test_role_policy_grants_its_own_folders_logs_and_credentials(desired: Desired) -> None:
    role = _one(desired, "role", SCOPE.role_name("scar-ci-zip"))
    text = json.dumps(role.wanted()["policy"])
    bucket, name = SCOPE.bucket("data"), SCOPE.function_name("zip")
    assert f"arn:aws:s3:::{bucket}/in/*" in text and f"arn:aws:s3:::{bucket}/out/*" in text
    assert f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/{name}" in text
    assert (f"arn:aws:ssm:eu-west-1:123456789012:parameter/scar-ci/{name}/"
            "storage-credentials") in text
    assert role.tags["scar-ci:scope"] == "pr-7" and role.tags["scar-ci:fdl-function"] == "zip"


def test_log_group_secret_and_bucket(desired: Desired) -> None:
    name = SCOPE.function_name("zip")
    group = _one(desired, "log group", f"/aws/lambda/{name}")
    assert group.wanted()["retention"] == 30 and group.tags["scar-ci:lambda"] == name
    secret = _one(desired, "secret", f"/scar-ci/{name}/storage-credentials")
    assert secret.credentials == {"minio": {"lab": {"access_key": "AK", "secret_key": "SK"}}}
    bucket = _one(desired, "bucket", SCOPE.bucket("data"))
    assert set(bucket.folders) == {"in", "out"} and bucket.tags["scar-ci:managed"] == "true"


def test_zip_function_needs_its_role_log_group_secret_and_layer(desired: Desired) -> None:
    name = SCOPE.function_name("zip")
    function = _one(desired, "function", name)
    wanted = function.wanted()
    assert (wanted["package"], wanted["MemorySize"]) == ("Zip", 1024)
    role = SCOPE.role_name("scar-ci-zip")
    assert wanted["role"] == f"arn:aws:iam::123456789012:role/scar-ci/{role}"
    assert wanted["layers"] == ["scar-ci-supervisor:(new version)"]
    assert wanted["tags"]["scar-ci:supervisor"] == f"sha256:{LAYER[1][:16]}"
    assert set(function.depends_on()) == {
        ("role", SCOPE.role_name("scar-ci-zip")), ("log group", f"/aws/lambda/{name}"),
        ("secret", f"/scar-ci/{name}/storage-credentials"), ("layer", "scar-ci-supervisor")}


def test_image_function_image_and_repository(desired: Desired) -> None:
    repository = SCOPE.ecr_repository("img")
    function = _one(desired, "function", SCOPE.function_name("img"))
    assert function.wanted()["package"] == "Image"
    assert ("image", repository) in function.depends_on()
    assert ("layer", "scar-ci-supervisor") not in function.depends_on()
    image = _one(desired, "image", repository)
    assert image.spec.base == "registry.example.org/base:1"
    assert set(image.depends_on()) == {("repository", repository)}
    assert _one(desired, "repository", repository).tags["scar-ci:delete-images"] == "true"


def test_batch_function_job_image_compute_environment_queue_and_definition(
        desired: Desired) -> None:
    name, repository = SCOPE.batch_name("job"), SCOPE.ecr_repository("job")
    environment = _one(desired, "compute env", name)
    assert environment.resources["subnets"] == ["subnet-1"]
    assert environment.service_role == (
        "arn:aws:iam::123456789012:role/service-role/AWSBatchServiceRole")
    assert set(_one(desired, "job queue", name).depends_on()) == {("compute env", name)}
    assert set(_one(desired, "job image", repository).depends_on()) == {("image", repository)}
    definition = _one(desired, "job definition", name)
    assert definition.memory == 2048
    assert set(definition.depends_on()) == {("job image", repository),
                                            ("role", SCOPE.role_name("scar-ci-job"))}
    function = _one(desired, "function", SCOPE.function_name("job"))
    assert {("job queue", name), ("job definition", name)} <= set(function.depends_on())


def test_triggers_and_api_need_their_function_and_bucket(desired: Desired) -> None:
    """A trigger also waits for the functions of its bucket's other triggers, so a bucket's
    triggers start together (their notification entries are written in one batch)."""
    zip_name, img = SCOPE.function_name("zip"), SCOPE.function_name("img")
    bucket = SCOPE.bucket("data")
    for trigger in (_one(desired, "trigger", f"{bucket}/out -> {img}"),
                    _one(desired, "trigger", f"{bucket}/in -> {zip_name}")):
        assert set(trigger.depends_on()) == {("function", img), ("function", zip_name),
                                             ("bucket", bucket)}
    api = _one(desired, "api", SCOPE.api_name("zip-api"))
    assert set(api.depends_on()) == {("function", zip_name)}
    assert desired.apis == {zip_name: api}


def test_the_order_follows_the_dependencies(desired: Desired) -> None:
    order = [r.key for r in ordered(desired.resources)]
    for resource in desired.resources:
        for need in resource.depends_on():
            assert order.index(need) < order.index(resource.key), (need, resource.key)
    backwards = [r.key for r in ordered(desired.resources, reverse=True)]
    for resource in desired.resources:
        for need in resource.depends_on():
            assert backwards.index(need) > backwards.index(resource.key)


def test_a_dependency_cycle_is_an_error(desired: Desired) -> None:
    trigger = next(r for r in desired.resources if r.kind == "trigger")
    function = _one(desired, "function", trigger.function)
    function.needs = (*function.needs, trigger.key)
    with pytest.raises(DependencyCycle, match="trigger"):
        ordered(desired.resources)


def test_each_function_names_the_services_its_other_resources_are_in(desired: Desired) -> None:
    """What the deploy's discovery looks in beyond Lambda, IAM, Logs and S3."""
    services = {r.name: r.tags["scar-ci:services"] for r in desired.resources
                if r.kind == "function"}
    assert services == {"zip--pr-7": "apigateway ssm", "img--pr-7": "ecr",
                        "job--pr-7": "batch ecr"}


@pytest.mark.parametrize(("deployment", "message"), [
    ({"max_s3_payload_size": 1000},
     r"holds \d+ bytes, over the unzipped limit \(1000 bytes, lambda.deployment.max_s3_"),
    ({"max_payload_size": 100},
     r"is \d+ bytes, over the direct upload limit \(100 bytes, lambda.deployment.max_payload_"),
])
def test_scar_s_payload_limits_are_refused_at_plan(tmp_path: Path, deployment: dict[str, int],
                                                   message: str) -> None:
    """SCAR's deployment.max_s3_payload_size (the unzipped code) and max_payload_size (the
    zip, without a deployment bucket): refused before any AWS call, not at the upload."""
    (tmp_path / "run.sh").write_text("echo hi\n")
    (tmp_path / "image.tar").write_bytes(b"x" * 4000)
    (tmp_path / "scar.yaml").write_text(yaml.safe_dump({"functions": {"aws": [{"lambda": {
        "name": "big", "init_script": "run.sh", "container": {"image_file": "image.tar"},
        "deployment": deployment}}]}}))
    with pytest.raises(UnsupportedFunction, match=message):
        desired_state(load_fdl(tmp_path / "scar.yaml"), SCOPE, ACCOUNT, LAYER)
