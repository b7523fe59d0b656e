"""Direct Lambda invocations: the request SCAR's `run` sends, and what comes back."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scar_ci.aws.session import Aws
from scar_ci.errors import UsageError, UserError
from scar_ci.scopes.scope import log_group_of

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's request-response payload limit
ASYNC_PAYLOAD_LIMIT = 256 * 1024  # Lambda's event (asynchronous) payload limit
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FunctionFailed(UserError):
    """The function ran and reported an error."""


def parse_variables(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """`K=V` pairs (values may contain '=') as a mapping; a clear error for anything else."""
    variables = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise UsageError(f"{flag} {pair!r}: expected NAME=VALUE with NAME made of ASCII "
                             f"letters, digits and '_' (e.g. {flag} MODE=gray)")
        variables[name] = value
    return variables


def read_limited(path: Path, limit: int) -> bytes:
    """`path`'s bytes, no more than `limit` + 1: enough for the size checks that follow to
    refuse it, without reading a huge file or /dev/zero to the end."""
    with path.open("rb") as file:
        return file.read(limit + 1)


def direct_payload(script: Path | None, cmd_args: Sequence[str],
                   env: dict[str, str]) -> dict[str, Any]:
    """The supervisor's direct request: `script` (base64), `cmd_args`, `env`; only those given."""
    payload: dict[str, Any] = {}
    if script is not None:
        try:
            payload["script"] = base64.b64encode(
                read_limited(script, SYNC_PAYLOAD_LIMIT)).decode("ascii")
        except OSError as error:
            raise UsageError(f"cannot read the script {script}: {error.strerror}") from None
    if cmd_args:
        payload["cmd_args"] = list(cmd_args)
    if env:
        payload["env"] = env
    return payload


@dataclass(frozen=True)
class Answer:
    """One invocation's result as the user sees it."""

    function: str
    status: int
    request_id: str
    output: str
    error: str | None = None  # Lambda's FunctionError, when the function failed
    log_tail: str = ""

    @property
    def log_group(self) -> str:
        return log_group_of(self.function)

    def to_dict(self, verbose: bool = False) -> dict[str, Any]:
        """SCAR's `-j` shape (`LambdaOutput`); `-v` adds the error and the log tail."""
        shown: dict[str, Any] = {"StatusCode": self.status, "Payload": self.output,
                                 "LogGroupName": self.log_group, "RequestId": self.request_id}
        if verbose:
            shown.update(FunctionError=self.error, LogTail=self.log_tail)
        return {"LambdaOutput": shown}

    def failure(self) -> FunctionFailed:
        return FunctionFailed(quoted(f"function {self.function} failed "
                                     f"(request {self.request_id}): {self.output.rstrip()}"))


def quoted(message: str) -> str:
    """A message whose lines after the first are others' text (a function's output), set off
    with `  | ` so that none can pass for a workflow command or for scar-ci's own words."""
    first, *rest = message.splitlines() or [""]
    return "\n".join([first, *(f"  | {line}" for line in rest)])


def invoke(aws: Aws, function: str, payload: Any, *, asynchronous: bool = False,
           tail: bool = False) -> Answer:
    """Invoke `function` with `payload` (JSON), waiting for its answer unless asynchronous."""
    body = json.dumps(payload).encode()
    limit = ASYNC_PAYLOAD_LIMIT if asynchronous else SYNC_PAYLOAD_LIMIT
    if len(body) > limit:
        how = "asynchronously " if asynchronous else ""
        raise UsageError(f"the request to {function} is {len(body) / 1024:.0f} KiB; Lambda "
                         f"accepts at most {limit // 1024} KiB {how}per invocation; put large "
                         "inputs in the input bucket (scar-ci put) instead")
    from scar_ci.aws.lambda_ import invoke_function  # boto3 only when invoking

    answer = invoke_function(aws, function, body, asynchronous=asynchronous, tail=tail)
    raw = answer.payload
    return Answer(function, answer.status, answer.request_id,
                  _error_text(raw) if answer.error else _output_text(raw), answer.error,
                  answer.log_tail)


def _output_text(raw: str) -> str:
    """The supervisor returns its output as a JSON string; anything else is shown as JSON."""
    if not raw:
        return ""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str) else json.dumps(value)


def _error_text(raw: str) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, dict) and "errorMessage" in value:
        kind = value.get("errorType")
        return f"{kind}: {value['errorMessage']}" if kind else str(value["errorMessage"])
    return raw
