"""`scar-ci invoke` against an AWS_IAM API: the request carries a SigV4 signature (service
execute-api) that a server holding the secret key can verify, captured by a real HTTP server.

LocalStack community does not check API Gateway signatures (its execute-api handler chain has
no authorizer step), so the signature itself is verified here, as API Gateway would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from scar_ci.aws.apigateway import api_id_in
from scar_ci.aws.session import Aws
from scar_ci.commands.http import Request, send
from scar_ci.errors import UserError

KEY, SECRET, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"


@pytest.fixture
def captured() -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server recording each request's method, path, headers and body."""
    seen: list[dict] = []

    class Capture(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append({"method": self.command, "path": self.path,
                         "headers": dict(self.headers.items()),
                         "body": self.rfile.read(length)})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _record

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/restapis/abc123/scar/_user_request_/launch"
    yield url, seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return Aws(region="eu-west-1")


def verified(host: str, request: dict) -> bool:
    """Recompute the signature of a received request from its signed headers, as AWS does."""
    authorization = request["headers"]["Authorization"]
    fields = dict(part.strip().split("=", 1) for part in
                  authorization.removeprefix("AWS4-HMAC-SHA256 ").split(","))
    signed = fields["SignedHeaders"].split(";")
    headers = {name: value for name, value in request["headers"].items()
               if name.lower() in signed}
    again = AWSRequest(method=request["method"], url=f"http://{host}{request['path']}",
                       data=request["body"], headers=headers)
    again.context["timestamp"] = request["headers"]["X-Amz-Date"]
    signer = SigV4Auth(Credentials(KEY, SECRET, TOKEN), "execute-api", "eu-west-1")
    canonical = signer.canonical_request(again)
    return signer.signature(signer.string_to_sign(again, canonical), again) == \
        fields["Signature"]


def test_an_iam_request_is_signed_for_execute_api(captured, credentials) -> None:
    url, seen = captured
    request = Request({"who": "a b&c=d/e"}, b'{"cmd_args": ["df"]}', "application/json",
                      asynchronous=True)
    assert send(url, request, credentials).status == 200
    [got] = seen
    authorization = got["headers"]["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={KEY}/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert got["headers"]["X-Amz-Security-Token"] == TOKEN
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "content-type", "x-amz-invocation-type"} <= set(signed)
    assert verified(urlsplit(url).netloc, got)
    tampered = {**got, "body": b'{"cmd_args": ["rm"]}'}
    assert not verified(urlsplit(url).netloc, tampered)


def test_a_get_with_parameters_is_signed_too(captured, credentials) -> None:
    url, seen = captured
    send(url, Request({"q": "x y", "a": "1"}), credentials)
    assert verified(urlsplit(url).netloc, seen[0])


def test_an_open_api_gets_no_signature(captured) -> None:
    url, seen = captured
    send(url, Request({"q": "1"}))
    assert "Authorization" not in seen[0]["headers"]


def test_no_credentials_is_one_clear_error(captured, monkeypatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    url, seen = captured
    with pytest.raises(UserError, match="requires AWS_IAM-signed requests and no AWS credentials"):
        send(url, Request(), Aws(region="eu-west-1"))
    assert seen == []


@pytest.mark.parametrize("url", [
    "https://abc123.execute-api.eu-west-1.amazonaws.com/scar/launch",
    "http://127.0.0.1:4566/restapis/abc123/scar/_user_request_/launch",
])
def test_the_api_id_is_read_back_from_either_url_form(url) -> None:
    assert api_id_in(url) == "abc123"
