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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from command_helpers import SCRIPT, scar
from test_deploy_e2e import wait_for_object
from test_image_build import base_image  # noqa: F401 (a fixture)

from scar_ci.aws.ecr import REGISTRY_VARIABLE
from scar_ci.aws.lambda_ import FunctionNotReady, settle
from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.fdl import load_fdl
from scar_ci.package.image.registry import OCI_MANIFEST, Credentials, RegistryClient
from scar_ci.scopes.scope import Scope
from scar_testbed.images import DEFAULT_APPLETS, ImageSpec, build_image
from scar_testbed.images import TestImage as BusyboxImage
from scar_testbed.lambda_functions import ROLE, eventually, invoke
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


def test_run_invokes_the_image_and_a_warm_invocation_pulls_nothing(
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
    assert int(logs.split("Max Memory Used: ")[1].split()[0]) > 10  # Python + awslambdaric
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


def test_the_image_runs_as_a_non_root_user_with_only_tmp_writable(deployed, localstack) -> None:
    script = (b"id -u; touch /probe 2>/dev/null || echo root-read-only; "
              b"echo x > /tmp/probe && echo tmp-writable")
    payload, error, _ = invoke(localstack, deployed[2],
                               {"script": base64.b64encode(script).decode()})
    assert (payload, error) == ("993\nroot-read-only\ntmp-writable\n", None)


def test_a_new_version_starts_from_the_cached_image(deployed, localstack) -> None:
    """After the first test deleted the image from the registry: new environments of a new
    version still start."""
    name = deployed[2]
    lambda_ = boto3.client("lambda")
    lambda_.update_function_configuration(FunctionName=name, Description="new environments")
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    payload, error, _ = invoke(localstack, name, {"env": {"MODE": "new"}})
    assert (payload, error) == ("hello from init, MODE=new\n", None)


def create_image_function(localstack: Any, name: str, image_uri: str, **settings: Any
                          ) -> dict[str, Any]:
    """CreateFunction with PackageType=Image; the configuration once it left Pending."""
    lambda_ = localstack.client("lambda")
    lambda_.create_function(FunctionName=name, Role=ROLE, PackageType="Image",
                            Code={"ImageUri": image_uri}, **settings)
    return eventually(
        lambda: (c := lambda_.get_function(FunctionName=name)["Configuration"])["State"]
        != "Pending" and c, f"function {name} leaving state Pending", timeout=60)


def push_built(registry: Registry, image: BusyboxImage) -> str:
    """The image in the (ECR-like) registry; its pinned URI."""
    assert registry.credentials
    login = Credentials(registry.credentials.username, registry.credentials.password)
    repository = image.spec.repository
    digest = RegistryClient(registry.url, login).push_image(
        repository, image.spec.tag, image.manifest(), OCI_MANIFEST, image.blobs).manifest_digest
    return f"{registry.host}/{repository}@{digest}"


def test_an_image_that_cannot_be_pulled_makes_the_function_failed(
        localstack, ecr_registry, unique_name) -> None:
    missing = f"{ecr_registry.host}/no/such@sha256:{'0' * 64}"
    config = create_image_function(localstack, unique_name, missing)
    assert config["State"] == "Failed"
    assert f"cannot pull {missing}" in config["StateReason"]
    assert "not found in its registry" in config["StateReason"]
    # what a deploy says when the function it created ends Failed: Lambda's reason
    with pytest.raises(FunctionNotReady, match=r"reports the function Failed: .*cannot pull"):
        settle(boto3.client("lambda"), "function_active_v2", config["FunctionName"])
    # (LocalStack cannot delete a Failed function; its name is unique to this session)


def test_an_entry_that_exits_during_init_is_a_function_error_with_its_output(
        localstack, ecr_registry, unique_name) -> None:
    broken = {"/broken.sh": b"echo no runtime here\nexit 4\n"}
    uri = push_built(ecr_registry, build_image(ImageSpec(
        f"broken/{unique_name}", "1", files=broken, entrypoint=["/bin/sh", "/broken.sh"])))
    assert create_image_function(localstack, unique_name, uri)["State"] == "Active"

    payload, error, _ = invoke(localstack, unique_name, {})

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "exit status 4 during init" in payload["errorMessage"]
    assert "no runtime here" in payload["errorMessage"]
    localstack.client("lambda").delete_function(FunctionName=unique_name)


# A Lambda runtime in busybox sh: the Runtime API with wget, as any custom runtime uses it.
SHELL_RUNTIME = b"""#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  wget -q -S -O /tmp/event "$api/invocation/next" 2>/tmp/headers
  id=$(sed -n 's/.*Lambda-Runtime-Aws-Request-Id: *//p' /tmp/headers | tr -d '\\r')
  if grep -q sleep /tmp/event; then echo "sleeping in $id"; sleep 60; fi
  echo "answering $id"
  wget -q -O /dev/null --post-data="{\\"got\\": $(cat /tmp/event), \\"mode\\": \\"$MODE\\"}" \\
    "$api/invocation/$id/response"
done
"""


def test_a_custom_runtime_answers_times_out_is_started_again_and_runs_concurrently(
        localstack, ecr_registry, unique_name) -> None:
    image = build_image(ImageSpec(f"runtime/{unique_name}", "1",
                                  files={"/runtime.sh": SHELL_RUNTIME},
                                  entrypoint=["/bin/sh", "/runtime.sh"],
                                  applets=(*DEFAULT_APPLETS, "wget")))
    uri = push_built(ecr_registry, image)
    config = create_image_function(localstack, unique_name, uri, Timeout=2,
                                   Environment={"Variables": {"MODE": "custom"}})
    assert config["State"] == "Active"

    assert invoke(localstack, unique_name, {"n": 1})[:2] == ({"got": {"n": 1}, "mode": "custom"},
                                                             None)
    payload, error, logs = invoke(localstack, unique_name, {"sleep": 1})
    assert (error, payload["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert "Task timed out after 2.00 seconds" in payload["errorMessage"]
    assert "sleeping in " in logs
    payload, error, logs = invoke(localstack, unique_name, {"n": 2})  # a new runtime process
    assert (payload, error) == ({"got": {"n": 2}, "mode": "custom"}, None)
    assert "answering " in logs and "sleeping" not in logs
    with ThreadPoolExecutor(3) as pool:  # 3 environments at once share the image's container
        answers = list(pool.map(lambda n: invoke(localstack, unique_name, {"n": n})[:2], [3, 4, 5]))
    assert answers == [({"got": {"n": n}, "mode": "custom"}, None) for n in (3, 4, 5)]
    localstack.client("lambda").delete_function(FunctionName=unique_name)
