"""What the smoke test sends and how it judges an answer (the invocation itself runs against
LocalStack in tests/integration/test_action.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from scar_ci.steps.smoke import MAX_FILE, SmokeInputError, SmokeRequest, _judge


def test_no_payload_is_a_direct_invocation_and_a_payload_must_be_json(tmp_path: Path) -> None:
    assert SmokeRequest.of(None, None, tmp_path) == SmokeRequest(b"{}", "{}")
    assert SmokeRequest.of('{"cmd_args": ["-v"]}', None, tmp_path).payload == (
        b'{"cmd_args": ["-v"]}')
    with pytest.raises(SmokeInputError, match="'smoke-payload' is not JSON: Expecting value "
                                              "at line 1 column 1"):
        SmokeRequest.of("not json", None, tmp_path)


def test_a_file_is_posted_like_api_gateway_would(tmp_path: Path) -> None:
    (tmp_path / "in.bin").write_bytes(b"\x00\xffdata")
    request = SmokeRequest.of(None, "in.bin", tmp_path)
    event = json.loads(request.payload)
    assert (event["httpMethod"], event["isBase64Encoded"]) == ("POST", True)
    assert base64.b64decode(event["body"]) == b"\x00\xffdata"
    assert request.http and request.source == "in.bin"


@pytest.mark.parametrize(("name", "message"), [
    ("../secret", "is outside the repository"),
    ("/etc/passwd", "is outside the repository"),
    ("missing.txt", "cannot read missing.txt: No such file or directory"),
    ("big.bin", f"more than the {MAX_FILE} a synchronous invocation can carry"),
])
def test_files_that_cannot_be_sent(tmp_path: Path, name: str, message: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "secret").write_text("x")
    (workspace / "big.bin").write_bytes(b"\0" * (MAX_FILE + 1))
    with pytest.raises(SmokeInputError, match=message):
        SmokeRequest.of(None, name, workspace)


def test_answers_are_judged() -> None:
    assert _judge('"hello\\n"', None, http=False) == (True, "hello\n")
    assert _judge('{"errorType": "ScriptFailed", "errorMessage": "exit 3"}', "Unhandled",
                  http=False) == (False, "ScriptFailed: exit 3")
    body = base64.b64encode(b"4\n").decode()
    ok = json.dumps({"statusCode": 200, "body": body, "isBase64Encoded": True})
    assert _judge(ok, None, http=True) == (True, "4\n")
    bad = json.dumps({"statusCode": 500, "body": "scar-supervisor: failed"})
    assert _judge(bad, None, http=True) == (False, "scar-supervisor: failed")
    assert _judge("not json", "Unhandled", http=False) == (False, "not json")
