"""Plain Python Lambda functions on LocalStack, run by the test bed's scar-local executor."""

from __future__ import annotations

import json
import secrets
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scar_testbed.fixtures_aws import LocalStack
from scar_testbed.lambda_functions import PROBE, deploy, eventually, invoke, zip_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def probe(localstack: LocalStack) -> str:
    """One probe function for the tests that only invoke it."""
    name = f"scar-t-probe-{secrets.token_hex(4)}"
    settings = {"Timeout": 10, "MemorySize": 256, "Environment": {"Variables": {"GREETING": "hi"}}}
    deploy(localstack, name, PROBE, **settings)
    return name


def test_request_response_returns_the_result_computed_on_the_function_python(
    localstack: LocalStack, probe: str
) -> None:
    result, error, log_tail = invoke(localstack, probe, {"marker": "rr"})

    assert error is None
    assert result["greeting"] == "hi"
    assert result["memory"] == "256"
    assert result["endpoint"] == localstack.endpoint_url
    assert Path(result["python"]).parent == Path(sys.executable).parent
    assert "marker rr" in log_tail
    assert "REPORT RequestId:" in log_tail


def test_event_invoke_runs_and_the_function_reaches_s3(
    localstack: LocalStack, probe: str, unique_name: str
) -> None:
    s3 = localstack.client("s3")
    s3.create_bucket(Bucket=unique_name)

    response = localstack.client("lambda").invoke(
        FunctionName=probe,
        InvocationType="Event",
        Payload=json.dumps({"action": "put", "bucket": unique_name, "key": "from-event"}),
    )

    assert response["StatusCode"] == 202
    listed = eventually(
        lambda: s3.list_objects_v2(Bucket=unique_name).get("Contents"),
        "the Event-invoked function writing s3://{unique_name}/from-event",
    )
    assert [item["Key"] for item in listed] == ["from-event"]


def test_handler_exception_is_an_unhandled_function_error(
    localstack: LocalStack, probe: str
) -> None:
    result, error, log_tail = invoke(localstack, probe, {"action": "fail", "marker": "x1"})

    assert error == "Unhandled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "boom x1"
    assert any("app.py" in frame and "in handler" in frame for frame in result["stackTrace"])
    assert "[ERROR] ValueError: boom x1" in log_tail


def test_a_handler_that_exits_is_a_runtime_exit_error_and_the_next_call_works(
    localstack: LocalStack, probe: str
) -> None:
    result, error, _ = invoke(localstack, probe, {"action": "exit"})

    assert error == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError"
    assert result["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert invoke(localstack, probe, {})[1] is None


def test_logs_reach_cloudwatch_logs(localstack: LocalStack, probe: str) -> None:
    marker = secrets.token_hex(6)
    invoke(localstack, probe, {"marker": marker, "action": "child"})
    logs = localstack.client("logs")

    def logged() -> list[str]:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{probe}")["events"]
        return [event["message"] for event in events if marker in event["message"]]

    lines = eventually(logged, f"marker {marker} in CloudWatch Logs")
    assert lines == [f"marker {marker}\n", f"child {marker}\n"]  # the handler's, its child's


def test_concurrent_invocations_run_at_the_same_time(
    localstack: LocalStack, unique_name: str
) -> None:
    """Each invocation waits until all four have begun (run one after another, they would
    time out): however long their environments take to start on a loaded machine."""
    deploy(localstack, unique_name, PROBE, Timeout=120)
    localstack.client("s3").create_bucket(Bucket=unique_name)
    event = {"action": "gather", "bucket": unique_name, "key": "begun", "count": 4}
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: invoke(localstack, unique_name, event), range(4)))

    results = [result for result, error, _ in runs if error is None]
    assert len(results) == 4, runs
    assert len({result["pid"] for result in results}) == 4
    assert max(r["started"] for r in results) < min(r["ended"] for r in results)


def test_warm_process_is_reused_and_a_timeout_replaces_it(
    localstack: LocalStack, unique_name: str
) -> None:
    deploy(localstack, unique_name, PROBE, Timeout=1)

    first, _, _ = invoke(localstack, unique_name, {})
    second, _, _ = invoke(localstack, unique_name, {})
    timed_out, error, log_tail = invoke(localstack, unique_name, {"action": "sleep", "seconds": 5})
    after, _, _ = invoke(localstack, unique_name, {})

    assert second["pid"] == first["pid"]
    assert error == "Unhandled"
    assert timed_out["errorType"] == "Sandbox.Timedout"
    assert timed_out["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in log_tail
    assert after["pid"] != first["pid"]


def test_layers_are_importable_and_updated_code_runs(
    localstack: LocalStack, unique_name: str
) -> None:
    lambda_ = localstack.client("lambda")
    layer = lambda_.publish_layer_version(
        LayerName=unique_name,
        Content={"ZipFile": zip_of({
            "python/greeting.py": "WORD = 'from the layer'\n",
            "bin/say": "#!/bin/sh\necho said $1\n",
        })},
    )["LayerVersionArn"]
    code = """
import subprocess, greeting
def handler(event, context):
    said = subprocess.run(["say", "%s"], capture_output=True, text=True).stdout.strip()
    return [greeting.WORD, said]
"""
    deploy(localstack, unique_name, code % "v1", Layers=[layer])

    assert invoke(localstack, unique_name, {})[0] == ["from the layer", "said v1"]

    lambda_.update_function_code(
        FunctionName=unique_name, ZipFile=zip_of({"app.py": code % "v2"})
    )
    eventually(
        lambda: lambda_.get_function(FunctionName=unique_name)["Configuration"].get(
            "LastUpdateStatus"
        ) == "Successful",
        "update_function_code finishing",
    )
    assert invoke(localstack, unique_name, {})[0] == ["from the layer", "said v2"]


S3_TRIGGERED = """
import os, urllib.parse
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=os.environ["OUTPUT_BUCKET"], Key=key + ".out", Body=body.upper())
"""


def test_s3_upload_triggers_the_function_which_writes_to_the_output_bucket(
    localstack: LocalStack, unique_name: str
) -> None:
    s3 = localstack.client("s3")
    source, target = f"{unique_name}-in", f"{unique_name}-out"
    for bucket in (source, target):
        s3.create_bucket(Bucket=bucket)
    arn = deploy(
        localstack, unique_name, S3_TRIGGERED, Environment={"Variables": {"OUTPUT_BUCKET": target}}
    )
    localstack.client("lambda").add_permission(
        FunctionName=unique_name,
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{source}",
    )
    s3.put_bucket_notification_configuration(
        Bucket=source,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )

    s3.put_object(Bucket=source, Key="input/hello world.txt", Body=b"hello")

    def result() -> bytes | None:
        listed = s3.list_objects_v2(Bucket=target).get("Contents", [])
        if not listed:
            return None
        return s3.get_object(Bucket=target, Key=listed[0]["Key"])["Body"].read()

    assert eventually(result, f"the function's result in s3://{target}") == b"HELLO"
    assert s3.head_object(Bucket=target, Key="input/hello world.txt.out")


API_HANDLER = """
import json

def handler(event, context):
    name = (event.get("queryStringParameters") or {}).get("name")
    body = {"path": event["path"], "method": event["httpMethod"], "hello": name}
    return {"statusCode": 201, "headers": {"X-From": "lambda"}, "body": json.dumps(body)}
"""


def test_api_gateway_proxy_integration_returns_the_function_response(
    localstack: LocalStack, unique_name: str
) -> None:
    arn = deploy(localstack, unique_name, API_HANDLER)
    api = localstack.client("apigateway")
    api_id = api.create_rest_api(name=unique_name)["id"]
    root = api.get_resources(restApiId=api_id)["items"][0]["id"]
    resource = api.create_resource(restApiId=api_id, parentId=root, pathPart="greet")["id"]
    api.put_method(
        restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE"
    )
    api.put_integration(
        restApiId=api_id,
        resourceId=resource,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{localstack.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
    )
    api.create_deployment(restApiId=api_id, stageName="test")

    url = f"{localstack.endpoint_url}/restapis/{api_id}/test/_user_request_/greet?name=ada"
    # the function's first invocation: its cold start comes with the answer
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (LocalStack)
        status, header, body = response.status, response.headers["X-From"], json.load(response)

    assert (status, header) == (201, "lambda")
    assert body == {"path": "/greet", "method": "GET", "hello": "ada"}
