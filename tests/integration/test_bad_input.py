"""Bad input a user types against a real LocalStack, or an endpoint that does not answer:
one clear message, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from command_helpers import scar

from scar_ci.scopes.scope import Scope
from scar_testbed.latency_proxy import latency_proxy

pytestmark = pytest.mark.integration

PIPELINE = Path(__file__).parents[2] / "examples" / "pipeline" / "scar.yaml"


def test_put_into_a_bucket_that_does_not_exist_is_one_clear_line(
        localstack, unique_name, tmp_path, capsys):
    local = tmp_path / "in.txt"
    local.write_text("x")
    code, _, err = scar(capsys, "put", "-b", f"{unique_name}-none", "-p", str(local))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "scar-ci: AWS refused PutObject: NoSuchBucket: The specified bucket does not exist: "
        f"{unique_name}-none; check the name, or deploy the scope first ('scar-ci ls' lists "
        "what is deployed)")


def test_run_in_a_scope_that_is_not_deployed_names_the_missing_bucket(
        localstack, unique_name, capsys):
    scope = Scope.parse(f"manual:{unique_name}")
    code, _, err = scar(capsys, "run", "-f", str(PIPELINE), "-n", "count", "--scope", scope.label)
    assert (code, err) == (1, "scar-ci: AWS refused ListObjectsV2: NoSuchBucket: The specified "
                              f"bucket does not exist: {scope.bucket('scar-pipeline')}; check "
                              "the name, or deploy the scope first ('scar-ci ls' lists what is "
                              "deployed)\n")


def test_an_endpoint_that_does_not_answer_says_which_and_what_to_check(
        monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, _, err = scar(capsys, "ls")
    assert code == 1
    assert err.startswith("scar-ci: cannot talk to AWS: Could not connect to the endpoint URL: "
                          '"http://127.0.0.1:1/')
    assert "check the network, and AWS_ENDPOINT_URL (now http://127.0.0.1:1)" in err


def test_a_deploy_whose_reader_leaves_finishes_quietly(localstack, unique_name):
    """`scar-ci deploy | head -1`: no traceback, and no scope left half deployed."""
    scope = f"manual:{unique_name}"
    argv = [sys.executable, "-m", "scar_ci", "deploy", "-f", str(PIPELINE), "--scope", scope]
    deploy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert deploy.stdout.readline().startswith(b"scope mn-")
    deploy.stdout.close()
    _, err = deploy.communicate(timeout=120)
    try:
        assert deploy.returncode == 0, err.decode()
        assert err == b""
        listed = subprocess.run([*argv[:3], "ls", "--scope", scope], capture_output=True,
                                text=True, check=True).stdout
        assert f"count--{Scope.parse(scope).stage}" in listed
    finally:
        subprocess.run([*argv[:3], "teardown", "--scope", scope, "--delete-data"],
                       capture_output=True, check=True)


def finish(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """`communicate()`; a `process` still running `timeout` seconds later is killed (no stuck
    run keeps holding the scope's lock for the teardown after it) and fails the test."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running {timeout:.0f} s later, killed:\n{out}{err}")


def test_ctrl_c_mid_deploy_ends_it_at_once_says_what_is_left_and_running_it_again_finishes(
        localstack, unique_name):
    """The proxy holds every CreateFunction until the deploy has ended, so Ctrl-C comes while
    a call is running (the role created): the run stops at once (the lock released, what is
    left said) instead of waiting for that call, and the same deploy run again finishes."""
    scope = f"manual:{unique_name}"
    stage = Scope.parse(scope).label
    arrived, release = threading.Event(), threading.Event()

    def hold(operation: tuple[str, str]) -> None:
        if operation == ("lambda", "CreateFunction"):
            arrived.set()
            release.wait(timeout=300)

    with latency_proxy(localstack.endpoint_url, hold=hold) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
        argv = [sys.executable, "-m", "scar_ci", "deploy", "-f", str(PIPELINE), "--scope", scope]
        deploy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
        try:
            assert arrived.wait(timeout=120), "no CreateFunction reached the proxy"
            deploy.send_signal(signal.SIGINT)
            out, err = finish(deploy, timeout=60)
            assert deploy.returncode == 130, f"exit {deploy.returncode}\n{out}{err}"
            assert err == ("scar-ci: interrupted; what was done so far stays: run the same "
                           f"deploy again to finish it, or 'scar-ci teardown --scope {stage}' "
                           "to remove it\n")
            assert "  created role" in out
            assert not release.is_set()  # the held CreateFunction had not been answered
        finally:
            release.set()
            proxy.counts(settle_s=60)  # the held calls reach LocalStack before the next run
            again = subprocess.run(argv, capture_output=True, text=True, check=False)
            subprocess.run([*argv[:3], "teardown", "--scope", scope, "--delete-data"],
                           capture_output=True, check=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "deploy: " in again.stdout and "count--" in again.stdout.splitlines()[-1]


def test_get_into_places_it_cannot_write_is_one_clear_line(
        localstack, unique_name, tmp_path, capsys):
    s3 = localstack.client("s3")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="out/a.txt", Body=b"a")
    s3.put_object(Bucket=unique_name, Key="out/sub/b.txt", Body=b"b")
    occupied = tmp_path / "file"
    occupied.write_text("mine")
    try:
        code, _, err = scar(capsys, "get", "-b", f"{unique_name}/out", "-p", str(occupied))
        assert (code, err) == (
            1, f"scar-ci: cannot write {occupied}/a.txt: a file is in the way of its folder\n")
        code, _, err = scar(capsys, "get", "-b", f"{unique_name}/out/a.txt", "-p", "/dev/full")
        assert (code, err) == (1, "scar-ci: cannot write /dev/full: No space left on device\n")
        assert occupied.read_text() == "mine"
    finally:
        for key in ("out/a.txt", "out/sub/b.txt"):
            s3.delete_object(Bucket=unique_name, Key=key)
        s3.delete_bucket(Bucket=unique_name)


def test_logs_of_a_request_that_is_not_there_say_so(localstack, unique_name, capsys):
    logs = localstack.client("logs")
    logs.create_log_group(logGroupName=f"/aws/lambda/{unique_name}")
    try:
        code, out, err = scar(capsys, "logs", "-n", unique_name, "--request-id", "nope-1")
        assert (code, out) == (1, "")
        assert err == (f"scar-ci: no events of request 'nope-1' in /aws/lambda/{unique_name}: "
                       "check the request ID ('scar-ci run' prints it), or add --follow to wait "
                       "for it\n")
    finally:
        logs.delete_log_group(logGroupName=f"/aws/lambda/{unique_name}")


def test_run_of_a_function_that_is_not_deployed_says_where_to_look(
        localstack, unique_name, capsys):
    code, _, err = scar(capsys, "run", "-n", unique_name)
    assert code == 1
    assert err.startswith("scar-ci: AWS refused Invoke: ResourceNotFoundException: Function not "
                          f"found: arn:aws:lambda:us-east-1:000000000000:function:{unique_name}")
    assert err.endswith("; 'scar-ci ls' lists the deployed functions\n")
