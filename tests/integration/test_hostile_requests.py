"""Issue 13 against LocalStack. Hole 1, over HTTP through its API Gateway: a caller of a
function's URL cannot choose the command it runs; the API is deployed with the authorisation
the FDL asks for, and an AWS_IAM API refuses unsigned callers (403) while `scar-ci invoke`,
which signs with SigV4, gets through. Hole 12: S3 object names the file system cannot hold
are rejected, once.

LocalStack community has no authoriser step in its execute-api chain, so every client of the
module goes through the test bed's `iam_front` (scar_testbed/iam_gateway.py), which models
API Gateway's IAM step: the method's authorizationType read from LocalStack, the signature
verified with botocore, API Gateway's 403s; and its asynchronous Lambda call, which
LocalStack's proxy integration never makes (the FDL's `asynchronous`: run and invoke queue).
The identity it vouches for does not reach the event (LocalStack leaves it empty), so the
supervisor still refuses overrides there."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request

import boto3
import pytest
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from command_helpers import scar, worker_fdl
from test_commands import wait_for_keys

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope

pytestmark = pytest.mark.integration

HOSTILE = json.dumps({"script": base64.b64encode(b"echo pwned; env").decode(),
                      "cmd_args": ["sh", "-c", "echo pwned"], "env": {"X": "1"}})


@pytest.fixture(scope="module")
def apis(iam_front, tmp_path_factory, test_image_archives):
    """Two functions sharing an image: `worker` with a default API, `signed` with an AWS_IAM
    API that opts in to run overrides."""
    folder = tmp_path_factory.mktemp("api-security")
    base = f"scar-t-{secrets.token_hex(5)}"
    fdl = worker_fdl(folder, base, test_image_archives["docker"])
    document = yaml.safe_load(fdl.read_text())
    signed = json.loads(json.dumps(document["functions"]["aws"][0]))
    signed["lambda"]["name"] = "signed"
    signed["lambda"]["input"] = [{"storage_provider": "s3", "path": f"{base}/signed-input"}]
    signed["lambda"]["output"] = [{"storage_provider": "s3", "path": f"{base}/signed-output"}]
    signed["api_gateway"] = {"name": "signed", "allow_run_overrides": True,
                             "method": {"authorizationType": "AWS_IAM"}}
    document["functions"]["aws"].append(signed)
    fdl.write_text(yaml.safe_dump(document))
    scope = Scope.parse(f"manual:{base}")
    _, urls = engine.deploy(load_fdl(fdl), scope, Aws(), say=lambda _: None)
    yield fdl, scope, urls
    engine.teardown(scope, Aws(), delete_data=True, say=lambda _: None)


def post(url: str, body: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.status, base64.b64decode(answer.read()).decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def authorizations(url: str) -> set[str]:
    """The authorizationType of every method of the API behind `url`, read from API Gateway."""
    api_id = url.split("/restapis/")[1].split("/")[0]
    client = boto3.client("apigateway")
    return {client.get_method(restApiId=api_id, resourceId=resource["id"],
                              httpMethod=method)["authorizationType"]
            for resource in client.get_resources(restApiId=api_id)["items"]
            for method in resource.get("resourceMethods", {})}


def test_a_body_of_directives_to_a_default_api_is_the_input_file_not_a_command(apis):
    _, scope, urls = apis
    status, output = post(urls[scope.function_name("worker")], HOSTILE)
    assert (status, output) == (200, "shouted api_event_file\n")


def test_methods_are_deployed_with_the_authorisation_the_fdl_asks_for(apis):
    _, scope, urls = apis
    assert authorizations(urls[scope.function_name("worker")]) == {"NONE"}
    assert authorizations(urls[scope.function_name("signed")]) == {"AWS_IAM"}


def test_an_unsigned_caller_of_an_iam_api_is_refused(apis):
    _, scope, urls = apis
    status, output = post(urls[scope.function_name("signed")], HOSTILE)
    assert (status, json.loads(output)) == (403, {"message": "Missing Authentication Token"})


def signed_with(secret: str, url: str, body: str) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body.encode(),
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("test", secret), "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_a_caller_signing_with_the_wrong_secret_is_refused(apis):
    _, scope, urls = apis
    url = urls[scope.function_name("signed")]
    status, output = post(url, HOSTILE, signed_with("not-the-secret", url, HOSTILE))
    assert status == 403
    assert json.loads(output)["message"].startswith("The request signature we calculated")


def test_a_signed_caller_of_an_opted_in_api_still_cannot_run_a_command_here(apis):
    """The signature is valid, yet LocalStack gives the function no caller identity: the
    supervisor does not take the body's directives from a caller API Gateway did not name."""
    _, scope, urls = apis
    url = urls[scope.function_name("signed")]
    status, output = post(url, HOSTILE, signed_with("test", url, HOSTILE))
    assert (status, output) == (200, "shouted api_event_file\n")


def test_invoke_signs_its_request_to_an_iam_api_and_gets_through(apis, capsys):
    _, scope, _ = apis
    code, out, err = scar(capsys, "invoke", "-n", scope.function_name("signed"), "-jd",
                          '{"cmd_args": ["echo", "hi"]}')
    assert (code, out) == (0, "shouted api_event_file\n"), err


def test_the_fdl_s_asynchronous_makes_run_and_invoke_asynchronous(apis, capsys):
    """SCAR's `asynchronous: true` is the default of run and invoke: `run` invokes with
    InvocationType Event (Lambda answers 202), `invoke` sends X-Amz-Invocation-Type: Event,
    which the API maps into its integration, so API Gateway (the front) answers 502 at once,
    which is SCAR's "launched", and the function runs on its own; both runs reach the log."""
    fdl, scope, _ = apis
    document = yaml.safe_load(fdl.read_text())
    document["functions"]["aws"][0]["lambda"]["asynchronous"] = True
    queued = fdl.with_name("asynchronous.yaml")
    queued.write_text(yaml.safe_dump(document))
    worker = ["-f", str(queued), "-n", "worker", "--scope", scope.stage]

    code, out, err = scar(capsys, "run", *worker, "-j", "-e", "MODE=queued")
    assert code == 0, err
    answer = json.loads(out)["LambdaOutput"]
    assert answer["StatusCode"] == 202 and answer["RequestId"], answer
    code, out, err = scar(capsys, "invoke", *worker, "-p", "who=queued")
    assert (code, out) == (0, f"Function '{scope.function_name('worker')}' launched "
                              "successfully.\n"), err
    group = scope.log_group("worker")
    assert any("run_script says MODE=queued" in line
               for line in wait_for_log(group, "run_script says MODE=queued"))
    assert any("who=queued" in line for line in wait_for_log(group, "who=queued"))


def test_a_redeploy_turns_an_open_api_into_an_iam_one(apis):
    fdl, scope, urls = apis
    document = yaml.safe_load(fdl.read_text())
    document["functions"]["aws"][0]["api_gateway"]["method"] = {"authorizationType": "AWS_IAM"}
    fdl.write_text(yaml.safe_dump(document))
    engine.deploy(load_fdl(fdl), scope, Aws(), say=lambda _: None)
    assert authorizations(urls[scope.function_name("worker")]) == {"AWS_IAM"}
    assert post(urls[scope.function_name("worker")], "{}")[0] == 403


def wait_for_log(group: str, text: str, timeout: float = 90) -> list[str]:
    logs = boto3.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        lines = [event["message"] for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group) for event in page["events"]]
        if any(text in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(1)


def test_an_s3_object_with_a_long_file_name_is_processed(apis):
    """250 bytes: s3transfer's `<name>.<8 hex>` temporary file would not fit (the supervisor
    downloads under a short name); proot (udocker P1, the tests' engine) itself cannot open
    names of 255 bytes inside the container."""
    _, scope, _ = apis
    bucket, name = scope.bucket(scope.ident), "n" * 250
    boto3.client("s3").put_object(Bucket=bucket, Key=f"input/{name}", Body=b"shout\n")
    assert wait_for_keys(bucket, f"output/{name}", 1) == [f"output/{name}"]
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"output/{name}")["Body"].read()
    assert body == b"SHOUT\n"


def test_an_s3_object_name_the_file_system_cannot_hold_is_rejected_once(apis):
    _, scope, _ = apis
    bucket, name = scope.bucket(scope.ident), "x" * 300 + ".txt"
    boto3.client("s3").put_object(Bucket=bucket, Key=f"input/{name}", Body=b"x")
    lines = wait_for_log(scope.log_group("worker"), "dropped, not retried")
    rejected = [line for line in lines if "last segment is 304 bytes" in line]
    assert len(rejected) == 1, lines
    assert not any("Traceback" in line or "OSError" in line for line in lines)
    assert wait_for_keys(bucket, f"output/{name}", 1, timeout=2) == []
