"""The smoke invocation: one synchronous call of a deployed function, its output and verdict.

Without a payload the function gets `{}` (a direct invocation: its init_script runs). A
payload is sent as it is. A file is sent the way API Gateway would POST it (base64 body),
so the script finds it at `$INPUT_FILE_PATH` even when the function has no API.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scar_ci.aws.lambda_ import invoke_function
from scar_ci.aws.session import Aws
from scar_ci.errors import UsageError
from scar_ci.scopes.scope import log_group_of
from scar_ci.steps.summary import SmokeResult

MAX_FILE = 4 * 1024 * 1024  # base64 grows it by a third; Lambda's limit is 6 MB


class SmokeInputError(UsageError):
    """The smoke payload or file cannot be sent."""


@dataclass(frozen=True)
class SmokeRequest:
    """What to send: the Lambda payload, how to name it, whether the answer is an HTTP one."""

    payload: bytes
    source: str
    http: bool = False

    @classmethod
    def of(cls, payload: str | None, file: str | None, workspace: Path) -> SmokeRequest:
        """From the `smoke-payload` / `smoke-file` inputs (neither: `{}`)."""
        if file:
            return cls._file(file, workspace)
        if payload is None:
            return cls(b"{}", "{}")
        try:
            json.loads(payload)
        except json.JSONDecodeError as error:
            raise SmokeInputError(f"input 'smoke-payload' is not JSON: {error.msg} at line "
                                  f"{error.lineno} column {error.colno}") from None
        return cls(payload.encode(), "smoke-payload")

    @classmethod
    def _file(cls, file: str, workspace: Path) -> SmokeRequest:
        path = (workspace / file).resolve()
        if not path.is_relative_to(workspace.resolve()):
            raise SmokeInputError(f"input 'smoke-file': {file} is outside the repository "
                                  f"({workspace}); give a path inside it")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SmokeInputError(f"input 'smoke-file': cannot read {file}: "
                                  f"{error.strerror}") from None
        if len(data) > MAX_FILE:
            raise SmokeInputError(f"input 'smoke-file': {file} has {len(data)} bytes, more "
                                  f"than the {MAX_FILE} a synchronous invocation can carry; "
                                  "upload big inputs to the input bucket instead")
        event = {"httpMethod": "POST", "path": "/launch", "resource": "/{proxy+}",
                 "headers": {"Content-Type": "application/octet-stream"},
                 "queryStringParameters": None, "isBase64Encoded": True,
                 "body": base64.b64encode(data).decode(), "requestContext": {}}
        return cls(json.dumps(event).encode(), file, http=True)


def invoke(aws: Aws, function: str, timeout: int, request: SmokeRequest) -> SmokeResult:
    """Invoke `function` once (no retry: a smoke test must not run twice) and judge it."""
    started = time.monotonic()
    answer = invoke_function(aws, function, request.payload, once_within=timeout + 30)
    seconds = time.monotonic() - started
    ok, output = _judge(answer.payload, answer.error, request.http)
    more = f"scar-ci logs -n {function} --request-id {answer.request_id or '?'}"
    return SmokeResult(function, request.source, ok, seconds, output, more,
                       console_logs_url(aws.region, function))


def console_logs_url(region: str, function: str) -> str:
    """The AWS console page of the function's log group."""
    group = quote(quote(log_group_of(function), safe=""), safe="").replace("%", "$")
    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logsV2:log-groups/log-group/{group}")


def _judge(raw: str, function_error: str | None, http: bool) -> tuple[bool, str]:
    try:
        answer: Any = json.loads(raw)
    except json.JSONDecodeError:
        return function_error is None, raw
    if function_error:
        if isinstance(answer, dict):
            return False, f"{answer.get('errorType', 'Error')}: {answer.get('errorMessage', '')}"
        return False, raw
    if http and isinstance(answer, dict) and "statusCode" in answer:
        body = answer.get("body") or ""
        if answer.get("isBase64Encoded"):
            body = base64.b64decode(body).decode(errors="replace")
        return answer["statusCode"] == 200, body
    return True, answer if isinstance(answer, str) else json.dumps(answer, indent=2)
