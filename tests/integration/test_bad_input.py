"""Bad input a user types against a real LocalStack, or an endpoint that does not answer:
one clear message, a non-zero exit, no traceback."""

from __future__ import annotations

import pytest
from command_helpers import scar

pytestmark = pytest.mark.integration


def test_put_into_a_bucket_that_does_not_exist_is_one_clear_line(
        localstack, unique_name, tmp_path, capsys):
    local = tmp_path / "in.txt"
    local.write_text("x")
    code, _, err = scar(capsys, "put", "-b", f"{unique_name}-none", "-p", str(local))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "scar-ci: AWS refused PutObject: NoSuchBucket: The specified bucket does not exist")


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
