"""`runtime: image` functions really run in LocalStack's Lambda: scar-ci builds the image and
pushes it to the ECR-like registry (login from moto's ECR), deploys it, and the scar-local
executor pulls it (with the token of the same ECR API), runs its entry (awslambdaric and the
supervisor) under udocker against its Runtime API, for direct invocations and S3 uploads."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from command_helpers import SCRIPT, scar
from test_deploy_e2e import wait_for_object
from test_image_build import base_image  # noqa: F401 (a fixture)

from scar_ci import engine
from scar_ci.aws.ecr import REGISTRY_VARIABLE
from scar_ci.aws.session import Aws
from scar_ci.fdl import load_fdl
from scar_ci.scope import Scope
from scar_testbed.lambda_functions import invoke
from scar_testbed.moto_server import endpoint_variables
from scar_testbed.registry import Registry
from scar_testbed.service_process import ServiceProcess

pytestmark = pytest.mark.integration


def image_fdl(folder: Path, base: str, image: str) -> Path:
    """One image function `shout` on bucket `<base>` (input/ -> output/)."""
    (folder / "shout.sh").write_text(SCRIPT)
    document = {"functions": {"aws": [{"lambda": {
        "name": "shout", "runtime": "image", "init_script": "shout.sh", "memory": 512,
        "timeout": 60, "architectures": ["x86_64"],
        "container": {"image": image, "environment": {"Variables": {"MODE": "image"}}},
        "input": [{"storage_provider": "s3", "path": f"{base}/input"}],
        "output": [{"storage_provider": "s3", "path": f"{base}/output"}],
    }}]}}
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def deployed(localstack: Any, moto_server: ServiceProcess, ecr_registry: Registry,
             base_image: str, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
             ) -> Iterator[tuple[Path, Scope, str, str]]:
    """The function built, pushed and deployed once for the module: (fdl, scope, name,
    bucket)."""
    base = f"scar-t-{secrets.token_hex(5)}"
    fdl = image_fdl(tmp_path_factory.mktemp("image-run"), base, base_image)
    scope = Scope.parse(f"manual:{base}")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**endpoint_variables(moto_server.url),
                            REGISTRY_VARIABLE: ecr_registry.url}.items():
            patch.setenv(name, value)
        engine.deploy(load_fdl(fdl), scope, Aws(), say=lambda _: None)
        yield fdl, scope, scope.function_name("shout"), scope.bucket(base)
        engine.teardown(scope, Aws(), delete_data=True, say=lambda _: None)


def delete_manifest(registry: Registry, image_uri: str) -> None:
    """Remove the pinned image from the registry, so that any later pull would fail."""
    assert registry.credentials
    repository, digest = image_uri.split("/", 1)[1].split("@")
    login = f"{registry.credentials.username}:{registry.credentials.password}"
    request = urllib.request.Request(  # noqa: S310 (the test bed's registry)
        f"{registry.url}/v2/{repository}/manifests/{digest}", method="DELETE",
        headers={"Authorization": "Basic " + base64.b64encode(login.encode()).decode()})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 202


def test_run_invokes_the_image_and_later_starts_pull_nothing(
        deployed, localstack, ecr_registry, capsys) -> None:
    fdl, scope, name, _ = deployed
    started = time.monotonic()
    code, out, err = scar(capsys, "run", "-f", str(fdl), "--scope", scope.stage, "-s",
                          str(fdl.with_name("shout.sh")))
    cold = time.monotonic() - started
    assert (code, out) == (0, "hello from init, MODE=image\n"), err

    lambda_ = boto3.client("lambda")
    delete_manifest(ecr_registry, lambda_.get_function(FunctionName=name)["Code"]["ImageUri"])
    started = time.monotonic()
    payload, error, logs = invoke(localstack, name, {"env": {"MODE": "warm"}})
    warm = time.monotonic() - started
    assert (payload, error) == ("hello from init, MODE=warm\n", None)
    assert logs.startswith("START RequestId") and "REPORT RequestId" in logs

    # a new version (new environments) of the same image comes from the executor's cache
    lambda_.update_function_configuration(FunctionName=name, Description="new environments")
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    payload, error, _ = invoke(localstack, name, {"env": {"MODE": "new"}})
    assert (payload, error) == ("hello from init, MODE=new\n", None)
    print(f"cold run {cold:.2f} s, warm invoke {warm:.2f} s")


def test_an_upload_to_the_input_folder_runs_the_image_and_writes_the_output(deployed) -> None:
    _, _, _, bucket = deployed
    boto3.client("s3").put_object(Bucket=bucket, Key="input/homer.txt", Body=b"doh ray me\n")
    assert wait_for_object(bucket, "output/homer.txt") == b"DOH RAY ME\n"


def test_a_failing_script_is_a_function_error(deployed, tmp_path, capsys) -> None:
    name = deployed[2]
    script = tmp_path / "fail.sh"
    script.write_text("echo about to fail\nexit 3\n")
    code, out, err = scar(capsys, "run", "-n", name, "-s", str(script), "-v")
    assert code == 1
    assert json.loads(out)["LambdaOutput"]["FunctionError"] == "Unhandled"
    assert "about to fail" in err and "Traceback" not in err
