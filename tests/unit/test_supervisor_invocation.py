"""Whole invocations in the container-image runtime (scripts really run, by /bin/sh)."""

import base64
import json
from dataclasses import replace

import pytest

from scar_ci.supervisor import handler
from scar_ci.supervisor.config import FunctionConfig, Settings
from scar_ci.supervisor.context import LocalContext
from scar_ci.supervisor.errors import BadRequest, ScriptFailed
from scar_ci.supervisor.invocation import Supervisor
from scar_ci.supervisor.runtimes import ImageRuntime
from scar_ci.supervisor.storage import Storage


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def supervisor(tmp_path):
    init = tmp_path / "init.sh"
    init.write_text('echo "init saw $(cat "$INPUT_FILE_PATH")"\n')
    config = FunctionConfig(name="fn", runtime="image", init_script=init,
                            environment={"GREETING": "hello"}, timeout_threshold=1)
    settings = Settings(exec_mode="P1", tmp_dir=tmp_path / "tmp", udocker_dir=tmp_path / "u",
                        engine_dir=None)
    return Supervisor(config, settings, Storage(config), ImageRuntime())


def api_post(body: bytes, **extra):
    return {"httpMethod": "POST", "body": b64(body), "isBase64Encoded": True, "headers": {},
            "requestContext": {}, **extra}


def test_direct_invocation_returns_the_output_text(supervisor):
    script = b'echo "$GREETING $REQUEST_ID $X"; echo "$TMP_OUTPUT_DIR" | grep -c /output'
    context = LocalContext(aws_request_id="req-1")
    output = supervisor.handle({"script": b64(script), "env": {"X": "extra"}}, context)
    assert output == "hello req-1 extra\n1\n"


def test_the_contract_variables_are_set(supervisor):
    script = (b"for v in TMP_INPUT_DIR TMP_OUTPUT_DIR EVENT EVENT_TIME REQUEST_ID; "
              b"do eval test -n \\$$v || echo missing $v; done")
    assert supervisor.handle({"script": b64(script)}, LocalContext()) == ""


def test_api_post_body_is_the_input_and_the_answer_is_base64(supervisor):
    context = LocalContext(aws_request_id="req-2", log_stream_name="stream")
    response = supervisor.handle(api_post(b"homer"), context)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert response["headers"]["amz-lambda-request-id"] == "req-2"
    assert response["headers"]["amz-log-stream-name"] == "stream"
    assert base64.b64decode(response["body"]) == b"init saw homer\n"


IAM_CONTEXT = {"identity": {"accessKey": "AKIAEXAMPLE",
                             "userArn": "arn:aws:iam::123456789012:user/ci"}}


def test_an_anonymous_json_script_is_the_input_file_not_a_command(supervisor):
    body = json.dumps({"script": b64(b"echo pwned")})
    event = {"httpMethod": "POST", "body": body, "requestContext": {},
             "headers": {"Content-Type": "application/json"}}
    response = supervisor.handle(event, LocalContext())
    assert base64.b64decode(response["body"]) == f"init saw {body}\n".encode()


def test_api_get_query_parameters_reach_an_iam_callers_script(supervisor):
    supervisor.config = replace(supervisor.config, api_overrides=True)
    event = {"httpMethod": "GET", "queryStringParameters": {"who": "marge"},
             "requestContext": IAM_CONTEXT,
             "body": json.dumps({"script": b64(b"echo $CONT_VAR_who")}),
             "headers": {"Content-Type": "application/json"}}
    response = supervisor.handle(event, LocalContext())
    assert base64.b64decode(response["body"]) == b"marge\n"


def test_a_failing_script_fails_the_invocation_with_its_output(supervisor):
    with pytest.raises(ScriptFailed, match=r"exited with code 3; last output:\nbroken"):
        supervisor.handle({"script": b64(b"echo broken; exit 3")}, LocalContext())


def test_a_failing_script_behind_api_gateway_is_http_500(supervisor):
    supervisor.config = replace(supervisor.config, api_overrides=True)
    event = {"httpMethod": "POST", "body": json.dumps({"script": b64(b"echo no; exit 1")}),
             "headers": {"content-type": "application/json"}, "requestContext": IAM_CONTEXT}
    response = supervisor.handle(event, LocalContext())
    assert response["statusCode"] == 500
    body = base64.b64decode(response["body"])
    assert body == b"scar-supervisor: the request script exited with code 1\n\nno\n"


@pytest.mark.parametrize(("key", "reason"), [
    ("..%2F..%2Fetc%2Fpasswd", "'..' segment"),
    ("input/" + "n" * 256, "last segment is 256 bytes, more than the 255"),
    ("input/" + "\u00e9" * 128 + ".png", "last segment is 260 bytes"),
])
def test_a_notification_with_a_bad_key_is_answered_not_retried(supervisor, key, reason, caplog):
    """Lambda retries a failed S3 invocation: a rejection no retry can fix is answered."""
    record = {"s3": {"bucket": {"name": "b"}, "object": {"key": key}}}
    answer = supervisor.handle({"Records": [record]}, LocalContext())
    assert answer.startswith("scar-supervisor: object key ") and reason in answer
    assert "dropped, not retried" in caplog.text and "Traceback" not in caplog.text


def test_a_direct_request_with_bad_variables_still_fails(supervisor):
    with pytest.raises(BadRequest, match="cannot be set"):
        supervisor.handle({"env": {"AWS_SECRET_ACCESS_KEY": "x"}}, LocalContext())


def test_a_timeout_kills_the_script_and_fails(supervisor):
    with pytest.raises(ScriptFailed, match="timed out after 1 s"):
        supervisor.handle({"script": b64(b"echo started; sleep 20")}, LocalContext(seconds=2))


def test_no_time_left_is_reported_before_running(supervisor):
    with pytest.raises(ScriptFailed, match="no time left"):
        supervisor.handle({}, LocalContext(seconds=0.5))


def test_invocation_folders_are_removed(supervisor):
    supervisor.handle({"script": b64(b"touch $TMP_OUTPUT_DIR/x")}, LocalContext())
    assert list(supervisor.settings.tmp_dir.iterdir()) == []


def test_the_lambda_handler_reads_its_configuration_file(tmp_path, monkeypatch):
    (tmp_path / "scar-function.json").write_text(json.dumps(
        {"name": "fn", "runtime": "image", "container": {"environment": {"A": "from-config"}}}))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("SCAR_TMP_DIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(handler, "_supervisor", None)
    event = {"cmd_args": ["/bin/sh", "-c", "echo $A"]}
    assert handler.lambda_handler(event, LocalContext()) == "from-config\n"


def test_a_bad_request_behind_api_gateway_is_http_400(supervisor):
    event = {"httpMethod": "GET", "queryStringParameters": {"x;id": "1"}, "requestContext": {}}
    response = supervisor.handle(event, LocalContext())
    assert response["statusCode"] == 400
    assert b"CONT_VAR_" in base64.b64decode(response["body"])
