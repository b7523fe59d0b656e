"""Event parsing: S3 notifications, API Gateway, direct invocations, anything else."""

import base64
import json

import pytest

from scar_ci.supervisor.errors import BadRequest
from scar_ci.supervisor.events import API_BODY_FILE, EVENT_FILE, MAX_EVENT_VARIABLE, parse_event


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def s3_record(key: str, bucket: str = "in-bucket") -> dict:
    return {
        "eventSource": "aws:s3", "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 3}},
    }


def api_event(method="POST", body=None, encoded=False, query=None, content_type=None):
    return {
        "httpMethod": method, "path": "/launch", "body": body, "isBase64Encoded": encoded,
        "queryStringParameters": query,
        "headers": {"content-type": content_type} if content_type else {},
        "requestContext": {"requestId": "r", "requestTime": "23/Nov/2026:10:00:00 +0000"},
    }


def test_s3_keys_are_url_decoded_with_plus_for_spaces():
    [job] = parse_event({"Records": [s3_record("input/my+photo%281%29.png")]})
    assert job.kind == "s3"
    assert job.stored_object.key == "input/my photo(1).png"
    assert job.stored_object.bucket == "in-bucket"
    assert job.event_time == "2026-11-23T10:00:00.000Z"
    assert json.loads(job.event_json)["Records"][0]["s3"]["bucket"]["name"] == "in-bucket"


def test_every_s3_record_is_a_job():
    jobs = parse_event({"Records": [s3_record("input/a.txt"), s3_record("input/b.txt")]})
    assert [job.stored_object.key for job in jobs] == ["input/a.txt", "input/b.txt"]


@pytest.mark.parametrize("key", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "input%2Fa%00b"])
def test_hostile_s3_keys_are_rejected(key):
    with pytest.raises(BadRequest, match="rejected"):
        parse_event({"Records": [s3_record(key)]})


def test_a_record_without_s3_fields_is_a_bad_request():
    with pytest.raises(BadRequest, match=r"Records\[0\]"):
        parse_event({"Records": [{"eventSource": "aws:sqs"}]})


def test_api_get_query_parameters_become_cont_vars():
    [job] = parse_event(api_event("GET", query={"name": "homer", "size": "2"}))
    assert job.kind == "api"
    assert job.env == {"CONT_VAR_name": "homer", "CONT_VAR_size": "2"}
    assert job.body is None


@pytest.mark.parametrize("name", ["a-b", "x;rm -rf /", "$(id)", ""])
def test_query_parameters_that_cannot_name_a_variable_are_refused(name):
    with pytest.raises(BadRequest, match="CONT_VAR_"):
        parse_event(api_event("GET", query={name: "v"}))


def test_query_values_with_line_breaks_are_refused():
    with pytest.raises(BadRequest, match="line breaks"):
        parse_event(api_event("GET", query={"a": "x\ny"}))


def test_api_post_base64_body_is_decoded_and_saved_as_the_input():
    [job] = parse_event(api_event(body=b64(b"\x89PNG\x00"), encoded=True))
    assert (job.body, job.body_name) == (b"\x89PNG\x00", API_BODY_FILE)
    assert "body" not in json.loads(job.event_json)


def test_api_post_plain_body_is_kept_as_is():
    [job] = parse_event(api_event(body="plain text"))
    assert job.body == b"plain text"


IAM_CALLER = {"accessKey": "AKIAEXAMPLE", "userArn": "arn:aws:iam::123456789012:user/ci",
              "caller": "AIDAEXAMPLE", "accountId": "123456789012"}
OVERRIDES = json.dumps({"script": b64(b"echo hi"), "env": {"A": "1"}})


def iam_event(**kwargs):
    event = api_event(**kwargs)
    event["requestContext"]["identity"] = IAM_CALLER
    return event


@pytest.mark.parametrize("opted_in", [False, True])
def test_an_http_json_body_of_directives_is_data_by_default(opted_in):
    """Hole 1: an anonymous caller's `script` must never run, even when the FDL opted in
    (nothing vouches for the caller: an open method, or a gateway that checks no signature)."""
    event = api_event(body=OVERRIDES, content_type="application/json")
    event["requestContext"]["identity"] = {"accessKey": None, "userArn": None,
                                           "sourceIp": "203.0.113.9"}
    [job] = parse_event(event, api_overrides=opted_in)
    assert (job.kind, job.script, job.cmd_args) == ("api", None, None)
    assert (job.body, job.body_name) == (OVERRIDES.encode(), API_BODY_FILE)
    assert "A" not in job.env


def test_an_iam_signed_caller_cannot_override_unless_the_fdl_opted_in():
    [job] = parse_event(iam_event(body=OVERRIDES, content_type="application/json"))
    assert job.script is None and job.body == OVERRIDES.encode()


def test_with_the_opt_in_an_iam_signed_json_body_runs_that_script():
    event = iam_event(body=OVERRIDES, content_type="application/json", query={"q": "1"})
    [job] = parse_event(event, api_overrides=True)
    assert job.kind == "api"
    assert job.script == b"echo hi"
    assert job.env == {"CONT_VAR_q": "1", "A": "1"}
    assert job.body is None


def test_http_api_v2_iam_callers_are_recognised():
    event = {"version": "2.0", "body": OVERRIDES, "isBase64Encoded": False,
             "headers": {"content-type": "application/json"},
             "requestContext": {"http": {"method": "POST"}, "authorizer": {"iam": {
                 "accessKey": "AKIAEXAMPLE", "userArn": "arn:aws:iam::123456789012:user/ci"}}}}
    [job] = parse_event(event, api_overrides=True)
    assert job.script == b"echo hi"


def test_api_json_body_with_other_keys_is_just_an_input_file():
    body = json.dumps({"name": "homer"})
    [job] = parse_event(api_event(body=body, content_type="application/json; charset=utf-8"))
    assert job.body == body.encode()
    assert job.script is None


def test_http_api_v2_events_are_api_events():
    event = {"version": "2.0", "requestContext": {"http": {"method": "POST"}},
             "body": "data", "isBase64Encoded": False}
    [job] = parse_event(event)
    assert (job.kind, job.body) == ("api", b"data")


def test_direct_invocation_with_script_args_and_env():
    [job] = parse_event({"script": b64(b"ls"), "cmd_args": ["df", "-h"], "env": {"K": "v"}})
    assert (job.kind, job.script, job.cmd_args) == ("direct", b"ls", ["df", "-h"])
    assert job.env == {"K": "v"}
    assert "script" not in json.loads(job.event_json)


def test_scar_sends_cmd_args_as_a_json_string():
    [job] = parse_event({"cmd_args": '["df", "-h"]'})
    assert job.cmd_args == ["df", "-h"]


def test_an_empty_payload_runs_the_default():
    [job] = parse_event({})
    assert (job.kind, job.script, job.cmd_args, job.body) == ("direct", None, None, None)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"script": "not base64!"}, "not valid base64"),
        ({"cmd_args": "df -h"}, "list of strings"),
        ({"cmd_args": [1, 2]}, "list of strings"),
        ({"cmd_args": []}, "non-empty"),
        ({"env": ["A=1"]}, "NAME: value"),
        ({"env": {"INPUT_FILE_PATH": "/etc/passwd"}}, "reserved"),
        ({"env": {"AWS_SECRET_ACCESS_KEY": "x"}}, "reserved"),
        ({"env": {"A B": "x"}}, "cannot be set"),
    ],
)
def test_malformed_direct_invocations_are_bad_requests(payload, message):
    with pytest.raises(BadRequest, match=message):
        parse_event(payload)


@pytest.mark.parametrize("event", [{"foo": 1, "script": "x"}, ["a", 1], "just text", 42, None])
def test_anything_else_is_saved_as_a_file(event):
    [job] = parse_event(event)
    assert (job.kind, job.body_name) == ("other", EVENT_FILE)
    expected = event.encode() if isinstance(event, str) else json.dumps(event).encode()
    assert job.body == expected


def test_huge_events_are_not_put_in_the_event_variable():
    [job] = parse_event({"data": "x" * MAX_EVENT_VARIABLE})
    assert job.event_json == ""
    assert len(job.body) > MAX_EVENT_VARIABLE
