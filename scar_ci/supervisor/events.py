"""Lambda events -> jobs: what to download or save, which script or arguments, which variables.

Recognised: S3 notifications (one job per record), API Gateway proxy events (REST and HTTP
APIs), direct invocations (`{"script", "cmd_args", "env"}` only), anything else saved as a file.

An HTTP body is data, saved as the input file, as in SCAR's faas-supervisor: a JSON body made
of `script` / `cmd_args` / `env` runs as a direct invocation only when the function's FDL opts
in (`api_gateway.allow_run_overrides`, which the FDL check allows only behind AWS_IAM) and the
event names the caller's verified AWS identity.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from scar_ci.supervisor.errors import BadRequest
from scar_ci.supervisor.keys import check_object_key
from scar_ci.supervisor.response import is_api_event

DIRECTIVES = frozenset({"script", "cmd_args", "env"})
API_BODY_FILE = "api_event_file"
EVENT_FILE = "event_file"
MAX_EVENT_VARIABLE = 64 * 1024
RESERVED_VARIABLES = frozenset({
    "INPUT_FILE_PATH", "TMP_INPUT_DIR", "TMP_OUTPUT_DIR", "STORAGE_OBJECT_KEY",
    "EVENT", "EVENT_TIME", "REQUEST_ID",
})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class StoredObject:
    """An object a notification points at."""

    bucket: str
    key: str
    source: str  # "aws:s3" or "minio:s3"


@dataclass
class Job:
    """One run of the user's script."""

    kind: str  # "s3" | "api" | "direct" | "other"
    event_json: str
    event_time: str
    stored_object: StoredObject | None = None
    body: bytes | None = None
    body_name: str = ""
    script: bytes | None = None
    cmd_args: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    source: Any = None  # the event asking for this job alone (what Batch gets, lambda-batch)


def parse_event(event: Any, api_overrides: bool = False) -> list[Job]:
    """Every job an event asks for, in order; BadRequest for a malformed or hostile event.

    `api_overrides`: an API request's JSON body may carry `script` / `cmd_args` / `env`."""
    if is_notification(event):
        jobs = [_s3_job(record, i, event) for i, record in enumerate(event["Records"])]
        for job, record in zip(jobs, event["Records"], strict=True):
            job.source = {**event, "Records": [record]}
        return jobs
    if is_api_event(event):
        job = _api_job(event, api_overrides)
    elif isinstance(event, dict) and set(event) <= DIRECTIVES:
        job = _direct_job(event, "the invocation payload")
    else:
        job = Job("other", _event_json(event), _now(), body=_as_bytes(event),
                  body_name=EVENT_FILE)
    job.source = event
    return [job]


def is_notification(event: Any) -> bool:
    """A storage notification (S3's or MinIO's `Records`), delivered asynchronously."""
    return isinstance(event, dict) and isinstance(event.get("Records"), list)


def _s3_job(record: Any, index: int, event: dict[str, Any]) -> Job:
    where = f"Records[{index}]"
    try:
        bucket = record["s3"]["bucket"]["name"]
        raw_key = record["s3"]["object"]["key"]
    except (KeyError, TypeError):
        raise BadRequest(f"{where}: not an S3 notification record (no s3.bucket.name / "
                         "s3.object.key); send S3 events unchanged") from None
    key = check_object_key(unquote_plus(str(raw_key)))
    return Job(
        "s3",
        _event_json(event),
        str(record.get("eventTime") or _now()),
        stored_object=StoredObject(str(bucket), key, str(record.get("eventSource", "aws:s3"))),
    )


def _api_job(event: dict[str, Any], overrides: bool) -> Job:
    env = {}
    for name, value in (event.get("queryStringParameters") or {}).items():
        if not _NAME.fullmatch(str(name)):
            raise BadRequest(f"query parameter {name!r}: only letters, digits and '_' can name "
                             "a CONT_VAR_ variable; rename the parameter")
        env[f"CONT_VAR_{name}"] = _variable_value(f"query parameter {name!r}", value)
    body = _api_body(event)
    context = event.get("requestContext") or {}
    time = str(context.get("requestTime") or _now())
    summary = _event_json({k: v for k, v in event.items() if k != "body"})
    if overrides and body is not None and _json_content(event) and _signed_caller(context):
        directives = _json_object(body)
        if directives and set(directives) <= DIRECTIVES:
            job = _direct_job(directives, "the request's JSON body")
            job.kind, job.event_json, job.event_time = "api", summary, time
            job.env = {**env, **job.env}
            return job
    return Job("api", summary, time, body=body, body_name=API_BODY_FILE if body else "", env=env)


def _signed_caller(context: dict[str, Any]) -> bool:
    """True when API Gateway vouches for the caller's AWS identity (an AWS_IAM method fills
    it in; an open method, or a gateway that does not check signatures, leaves it empty)."""
    identity = context.get("identity") or {}
    iam = (context.get("authorizer") or {}).get("iam") or {}  # HTTP APIs (v2)
    return bool(identity.get("userArn") or identity.get("accessKey") or iam.get("userArn"))


def _api_body(event: dict[str, Any]) -> bytes | None:
    body = event.get("body")
    if body is None or body == "":
        return None
    if event.get("isBase64Encoded"):
        return _b64("the request body", body)
    return str(body).encode()


def _json_content(event: dict[str, Any]) -> bool:
    headers = event.get("headers") or {}
    content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    return content_type.split(";")[0].strip().lower() == "application/json"


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _direct_job(directives: dict[str, Any], where: str) -> Job:
    script = directives.get("script")
    return Job(
        "direct",
        _event_json({k: v for k, v in directives.items() if k != "script"}),
        _now(),
        script=_b64(f"'script' in {where}", script) if script is not None else None,
        cmd_args=_cmd_args(directives.get("cmd_args"), where),
        env=_env_additions(directives.get("env"), where),
    )


def _cmd_args(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # SCAR sends a JSON-encoded list
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise BadRequest(f"'cmd_args' in {where} must be a non-empty list of strings "
                         '(or that list JSON-encoded), e.g. ["df", "-h"]')
    return value


def _env_additions(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'env' in {where} must be an object of NAME: value pairs")
    env = {}
    for name, item in value.items():
        if not _NAME.fullmatch(name) or name in RESERVED_VARIABLES or name.startswith("AWS_"):
            raise BadRequest(f"'env' in {where}: {name!r} cannot be set (names are letters, "
                             "digits, '_'; the supervisor's own and AWS_* names are reserved)")
        env[name] = _variable_value(f"'env.{name}' in {where}", item)
    return env


def _variable_value(where: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if "\n" in text or "\x00" in text or "\r" in text:
        raise BadRequest(f"{where}: values cannot contain line breaks or NUL characters")
    return text


def _b64(where: str, value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where} is not valid base64; encode it with `base64 -w0`") from None


def _as_bytes(event: Any) -> bytes:
    return event.encode() if isinstance(event, str) else json.dumps(event).encode()


def _event_json(event: Any) -> str:
    text = json.dumps(event, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_EVENT_VARIABLE else ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
