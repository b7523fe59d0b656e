"""Helpers for tests that deploy plain Python Lambda functions: zip, deploy, invoke, wait."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from scar_testbed.fixtures_aws import LocalStack

ROLE = "arn:aws:iam::000000000000:role/scar-test-lambda"

# A function that reports where and how it ran, and on request fails, sleeps, writes to S3,
# exits, runs a child process or gathers (waits until `count` invocations have come).
PROBE = """
import json, os, subprocess, sys, time
import boto3

def handler(event, context):
    started = time.time()
    action = event.get("action")
    print("marker", event.get("marker"))
    if action == "exit":
        os._exit(3)
    if action == "child":
        subprocess.run(["echo", "child", event["marker"]], check=True)
    if action == "fail":
        raise ValueError("boom " + event["marker"])
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "put":
        boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"], Body=b"event")
    if action == "gather":
        s3, bucket, folder = boto3.client("s3"), event["bucket"], event["key"] + "/"
        s3.put_object(Bucket=bucket, Key=f"{folder}{os.getpid()}", Body=b"")
        while s3.list_objects_v2(Bucket=bucket, Prefix=folder)["KeyCount"] < event["count"]:
            time.sleep(0.1)
    return {
        "pid": os.getpid(), "init_pid": os.getppid(), "python": sys.executable,
        "greeting": os.environ.get("GREETING"), "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "memory": context.memory_limit_in_mb,
        "started": started, "ended": time.time(),
    }
"""


def zip_of(files: dict[str, str]) -> bytes:
    """A zip archive of text files; files under bin/ are executable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name.startswith("bin/") else 0o644) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def eventually(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    """Poll check() until it returns something truthy; fail saying what did not happen.
    The default bound is generous: what it waits for often includes a function's cold start
    under udocker (10-30 s on a loaded machine), and a success returns as soon as it happens."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s", pytrace=False)
        time.sleep(0.1)
    return result


def deploy(localstack: LocalStack, name: str, code: str, **settings: Any) -> str:
    """Create a python3.12 function from app.py = code, wait until Active; returns its ARN."""
    lambda_ = localstack.client("lambda")
    arn = lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": code})},
        **settings,
    )["FunctionArn"]
    state = eventually(
        lambda: lambda_.get_function(FunctionName=name)["Configuration"]["State"] != "Pending"
        and lambda_.get_function(FunctionName=name)["Configuration"],
        f"function {name} leaving state Pending",
    )
    assert state["State"] == "Active", state.get("StateReason")
    return arn


def invoke(localstack: LocalStack, name: str, event: dict) -> tuple[dict, str | None, str]:
    """Invoke synchronously: (decoded payload, FunctionError, log tail). The answer may take
    a cold start (10-30 s on a loaded machine) and the function's whole run."""
    response = localstack.client("lambda", read_timeout=180).invoke(
        FunctionName=name, Payload=json.dumps(event), LogType="Tail"
    )
    log_tail = base64.b64decode(response.get("LogResult", "")).decode()
    return json.load(response["Payload"]), response.get("FunctionError"), log_tail
