"""End to end in LocalStack: a zip function with the supervisor layer runs a real udocker
container on an S3 upload, a direct invocation and an API Gateway POST; failures are failures.

As on Lambda: the executor's sandbox (non-root, read-only but /tmp, ptrace denied) and udocker
in Fakechroot mode (F1) with the layer's engines, on a Debian (glibc) image that F1 confines;
the same function in proot mode (P1) fails there on ptrace, as it would on Lambda.
"""

import base64
import io
import json
import urllib.request
import uuid
import zipfile

import boto3
import pytest

from scar_ci.package.engines import engine_source
from scar_ci.package.layer import HANDLER, layer_bytes
from scar_testbed.lambda_functions import eventually

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/scar-test"
INIT_SCRIPT = b"""#!/bin/sh
name=$(basename "$INPUT_FILE_PATH")
echo "processing $name"
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name.upper"
cat "$TMP_OUTPUT_DIR/$name.upper"
"""


def function_zip(name: str, image_archive) -> bytes:
    config = {"name": name, "init_script": "init.sh",
              "container": {"image_file": "image.tar", "timeout_threshold": 2},
              "input": [{"storage_provider": "s3", "path": f"{name}-in/input"}],
              "output": [{"storage_provider": "s3", "path": f"{name}-out/output"}]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scar-function.json", json.dumps(config))
        archive.writestr("init.sh", INIT_SCRIPT)
        archive.write(image_archive, "image.tar")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def layer(localstack):
    """The supervisor layer as a deploy builds it, with the session's engines (the machine's
    fakechroot, patchelf)."""
    published = boto3.client("lambda").publish_layer_version(
        LayerName=f"scar-e2e-{uuid.uuid4().hex[:10]}",
        Content={"ZipFile": layer_bytes(engine_source())})
    return published["LayerVersionArn"]


def create_function(name, layer, image_archive, variables=None, timeout=60):
    """A function of `timeout` seconds: the default leaves a cold start (udocker's F1 set-up
    of the container) time enough on a loaded machine; a run cut short in its set-up would
    fail the test for that, not for what it checks."""
    lam = boto3.client("lambda")
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler=HANDLER, Timeout=timeout,
        Code={"ZipFile": function_zip(name, image_archive)}, Layers=[layer],
        Environment={"Variables": variables or {}},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return arn


@pytest.fixture(scope="module")
def function(layer, glibc_image_archive):
    name = f"scar-e2e-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3")
    arn = create_function(name, layer, glibc_image_archive)
    lam = boto3.client("lambda")
    for bucket in (f"{name}-in", f"{name}-out"):
        s3.create_bucket(Bucket=bucket)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    s3.put_bucket_notification_configuration(Bucket=f"{name}-in", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"}]}},
        }]})
    return name, arn


def invoke(name: str, payload: dict) -> dict:
    answer = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload))
    return {"error": answer.get("FunctionError"), "payload": json.loads(answer["Payload"].read())}


def test_an_upload_to_the_input_bucket_lands_processed_in_the_output_bucket(function):
    s3, name = boto3.client("s3"), function[0]
    s3.put_object(Bucket=f"{name}-in", Key="input/homer simpson.txt", Body=b"doh\n")
    key = "output/homer simpson.txt.upper"
    eventually(lambda: any(item["Key"] == key for item in s3.list_objects_v2(
        Bucket=f"{name}-out").get("Contents", [])), f"s3://{name}-out/{key}", timeout=60)
    assert s3.get_object(Bucket=f"{name}-out", Key=key)["Body"].read() == b"DOH\n"


def test_the_script_runs_confined_by_fakechroot_as_the_sandbox_user(function):
    script = b"id -u; ls /; test -e /usr/lib/x86_64-linux-gnu/fakechroot || echo no-host-lib"
    result = invoke(function[0], {"script": base64.b64encode(script).decode()})
    uid, *listing = result["payload"].split()
    assert (result["error"], uid) == (None, "993")
    assert "no-host-lib" in listing  # the host's /usr is not the container's
    assert "work" not in listing  # the container's root, not the host's


def test_the_same_function_in_proot_mode_fails_on_ptrace_as_on_lambda(layer,
                                                                       glibc_image_archive):
    name = f"scar-p1-{uuid.uuid4().hex[:10]}"
    create_function(name, layer, glibc_image_archive,
                    {"SCAR_EXEC_MODE": "P1", "UDOCKER_USE_PROOT_EXECUTABLE": "/usr/bin/proot"})
    try:
        result = invoke(name, {"script": base64.b64encode(b"echo never").decode()})
    finally:
        boto3.client("lambda").delete_function(FunctionName=name)
    assert result["error"] == "Unhandled"
    assert "ptrace(TRACEME): Operation not permitted" in result["payload"]["errorMessage"]


def test_a_direct_invocation_returns_the_script_output(function):
    script = base64.b64encode(b"echo direct $X; uname -s").decode()
    result = invoke(function[0], {"script": script, "env": {"X": "ok"}})
    assert result == {"error": None, "payload": "direct ok\nLinux\n"}


def test_a_failing_script_is_a_function_error(function):
    result = invoke(function[0], {"script": base64.b64encode(b"echo nope; exit 2").decode()})
    assert result["error"] == "Unhandled"
    assert result["payload"]["errorType"] == "ScriptFailed"
    assert "exited with code 2" in result["payload"]["errorMessage"]


def test_a_script_out_of_time_is_a_function_error(layer, glibc_image_archive):
    name = f"scar-slow-{uuid.uuid4().hex[:10]}"
    create_function(name, layer, glibc_image_archive, timeout=8)  # 6 s for the script
    try:
        result = invoke(name, {"script": base64.b64encode(b"echo slow; sleep 60").decode()})
    finally:
        boto3.client("lambda").delete_function(FunctionName=name)
    assert result["error"] == "Unhandled"
    assert "timed out" in result["payload"]["errorMessage"]


def test_a_hostile_key_is_rejected(function):
    record = {"eventSource": "aws:s3", "s3": {"bucket": {"name": f"{function[0]}-in"},
                                               "object": {"key": "input/..%2F..%2Fetc%2Fpasswd"}}}
    result = invoke(function[0], {"Records": [record]})
    # answered, not raised: Lambda would retry a notification whose handler fails
    assert result["error"] is None
    assert "rejected: it contains a '.' or '..' segment" in result["payload"]


def test_an_api_gateway_post_answers_with_the_script_output(function, localstack):
    apigw = boto3.client("apigateway")
    api = apigw.create_rest_api(name=function[0])["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigw.create_resource(restApiId=api, parentId=root, pathPart="launch")["id"]
    apigw.put_method(restApiId=api, resourceId=resource, httpMethod="ANY",
                     authorizationType="NONE")
    uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function[1]}"
           "/invocations")
    apigw.put_integration(restApiId=api, resourceId=resource, httpMethod="ANY",
                          type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    apigw.create_deployment(restApiId=api, stageName="scar")
    url = f"{localstack.endpoint_url}/restapis/{api}/scar/_user_request_/launch"
    request = urllib.request.Request(url, data=b"marge\n", method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        body = response.read()
    expected = b"processing api_event_file\nMARGE\n"
    assert expected in (body, base64.b64decode(body))
