"""The test bed's model of API Gateway's IAM step: its routing and its signature check, with
requests signed by botocore as `scar-ci invoke` signs them (no network)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from scar_testbed.iam_gateway import (
    INCOMPLETE,
    MISMATCH,
    MISSING_TOKEN,
    UNKNOWN_KEY,
    IamGateway,
    route,
)

KEY, SECRET = "test", "test"  # the test bed's credentials
URL = "http://127.0.0.1:4566/restapis/abc/scar/_user_request_/launch?who=me"
BODY = b'{"x": 1}'


@pytest.mark.parametrize(("path", "expected"), [
    ("/launch", "/{proxy+}"),
    ("/run", "/run"),
    ("/run/more", "/{proxy+}"),
    ("/", "/"),
    ("/a", "/{proxy+}"),
])
def test_paths_go_where_api_gateway_routes_them(path: str, expected: str) -> None:
    assert route(["/", "/{proxy+}", "/run"], path) == expected


def test_a_parameter_wins_over_a_greedy_one_and_nothing_matches_a_missing_segment() -> None:
    assert route(["/{proxy+}", "/{name}"], "/x") == "/{name}"
    assert route(["/run"], "/") is None


def signed(secret: str = SECRET, key: str = KEY, body: bytes = BODY) -> dict[str, str]:
    request = AWSRequest(method="POST", url=URL, data=body,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(request)
    return {**request.headers, "Host": "127.0.0.1:4566"}  # as the front receives them


@pytest.fixture
def gateway() -> IamGateway:
    return IamGateway("http://127.0.0.1:1", {KEY: SECRET}, "us-east-1")


def test_a_signature_made_as_scar_ci_invoke_makes_it_passes(gateway: IamGateway) -> None:
    assert gateway.signature_refusal("POST", URL, signed(), BODY) is None


# Headers made when the test runs, not when it is collected: a signature made at collection
# would have expired (5 minutes) by the time a long suite reaches the test.
@pytest.mark.parametrize(("headers", "body", "refusal"), [
    (dict, BODY, MISSING_TOKEN),
    (lambda: signed(secret="wrong"), BODY, MISMATCH),
    (signed, b'{"x": 2}', MISMATCH),  # the body is signed too
    (lambda: signed(key="nobody"), BODY, UNKNOWN_KEY),
    (lambda: {"Authorization": "Bearer token"}, BODY, INCOMPLETE),
])
def test_what_api_gateway_refuses(gateway: IamGateway, headers: Callable[[], dict[str, str]],
                                  body: bytes, refusal: object) -> None:
    assert gateway.signature_refusal("POST", URL, headers(), body) == refusal


def test_a_signature_from_an_hour_ago_has_expired(gateway: IamGateway) -> None:
    headers = signed()
    hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    headers["X-Amz-Date"] = hour_ago.strftime(SIGV4_TIMESTAMP)
    refusal = gateway.signature_refusal("POST", URL, headers, BODY)
    assert refusal is not None and refusal.message.startswith("Signature expired: ")
