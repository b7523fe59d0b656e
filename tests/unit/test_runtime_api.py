"""The scar-local executor's Lambda Runtime API over real HTTP (what an image's runtime sees),
and the `udocker run` an image function's environment is started with."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.request
from pathlib import Path

import pytest

from scar_ci.local.executor.images import PreparedImage, run_spec
from scar_ci.local.executor.runtime_api import PREFIX, ImageRuntime, RuntimeAPI

REQUEST = {"request_id": "req-1", "payload": '{"n": 1}', "deadline_ms": 1234,
           "arn": "arn:aws:lambda:us-east-1:000000000000:function:fn", "trace_id": ""}


def call(api: RuntimeAPI, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://{api.address}{PREFIX}{path}", body,
                                     headers or {}, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def api() -> RuntimeAPI:
    server = RuntimeAPI()
    yield server
    server.close()


def test_next_hands_out_the_invocation_with_lambdas_headers_and_keeps_the_response(api):
    api.hand_out(REQUEST)
    status, headers, body = call(api, "/invocation/next")
    assert (status, json.loads(body)) == (200, {"n": 1})
    assert headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert headers["Lambda-Runtime-Deadline-Ms"] == "1234"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == REQUEST["arn"]
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")  # never missing
    assert api.ready.is_set()

    assert call(api, "/invocation/other/response", b'"stale"')[0] == 202  # ignored
    assert not api.done.is_set()
    assert call(api, "/invocation/req-1/response", b'"answer"')[0] == 202
    assert api.done.is_set() and api.outcome == {"ok": True, "body": '"answer"'}


def test_errors_and_init_errors_are_kept_as_posted(api):
    api.hand_out(REQUEST)
    call(api, "/invocation/next")
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    call(api, "/invocation/req-1/error", json.dumps(error).encode())
    assert api.outcome == {"ok": False, "error": error}

    call(api, "/init/error", b"not json", {"Lambda-Runtime-Function-Error-Type": "Runtime.X"})
    assert api.init_error == {"errorMessage": "not json", "errorType": "Runtime.X"}
    assert call(api, "/no/such", b"")[0] == 404


def test_next_waits_for_an_invocation_and_close_releases_it(api):
    released: list[Exception] = []

    def ask() -> None:
        try:
            call(api, "/invocation/next")
        except http.client.RemoteDisconnected as error:  # stopped: no invocation comes
            released.append(error)

    waiting = threading.Thread(target=ask)
    waiting.start()
    assert api.ready.wait(5)  # the runtime's init is done when it asks
    api.close()
    waiting.join(5)
    assert not waiting.is_alive() and released


def test_the_run_spec_gives_the_lambda_environment_and_exactly_the_entry(tmp_path: Path):
    image = PreparedImage("scar-abc", {"Entrypoint": ["/entry", "a b"], "Cmd": ["c"],
                                       "WorkingDir": "/work"})
    assert image.entry(None, None) == ["/entry", "a b", "c"]
    assert image.entry(["/other"], ["x"]) == ["/other", "x"]
    spec = run_spec(image, image.entry(None, None), None,
                    {"MODE": "gray", "LOCALSTACK_RUNTIME_ID": "r1"}, tmp_path, {"UDOCKER_DIR": "u"},
                    "/usr/bin/python3")
    assert f"--volume={tmp_path}:/tmp" in spec["run"] and "--workdir=/work" in spec["run"]
    assert "--env=MODE=gray" in spec["run"]
    assert not any("LOCALSTACK_RUNTIME_ID" in option for option in spec["run"])
    assert spec["entry"] == ["--entrypoint=", "scar-abc", "/entry", "a b", "c"]
    assert spec["env"] == {"UDOCKER_DIR": "u"}


def test_an_invocation_before_the_runtime_is_started_is_refused(tmp_path: Path):
    with pytest.raises(RuntimeError, match="before ensure"):
        ImageRuntime({"run": [], "entry": [], "env": {}}, tmp_path).run(REQUEST, 0.0)
