"""A front for LocalStack on 127.0.0.1 that checks SigV4 on AWS_IAM methods, as API Gateway does.

LocalStack community's execute-api chain has no authoriser step: a method deployed with
`authorizationType: AWS_IAM` answers an unsigned call. This front models API Gateway's IAM
step for execute-api requests (`/restapis/<api>/<stage>/_user_request_/<path>`): it routes the
path to the API's resource and method as API Gateway does (literal segments before `{name}`
before `{name+}`, the request's method before ANY), reads that method's authorizationType
from LocalStack, and for AWS_IAM verifies the request's SigV4 signature (service
execute-api) with botocore and the credentials the test bed knows, answering API Gateway's
published 403s before LocalStack sees the request. It also models the asynchronous call
LocalStack's proxy integration never makes: when the method's integration maps
`X-Amz-Invocation-Type` (from a header, a query parameter or a constant) to `Event`, the
front answers API Gateway's 502 at once and the function runs on its own. Every other request
is passed on.

    with iam_gateway(localstack_url, {"test": "test"}, "us-east-1") as front:
        ...  # clients use AWS_ENDPOINT_URL=front.url

Not modelled: IAM policy evaluation (any valid signature of a known key is let through, where
AWS then checks execute-api:Invoke against the caller's policies and the API's resource
policy), session tokens (a signed X-Amz-Security-Token is not checked), and the caller's
identity in the event (LocalStack builds the event and leaves `requestContext.identity` empty).
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from scar_testbed.latency_proxy import HOP_BY_HOP, Forwarder, LatencyProxy, serving

INVOCATION_TYPE = "integration.request.header.X-Amz-Invocation-Type"
EXECUTE_API = re.compile(r"/restapis/(?P<api>[^/]+)/[^/]+/_user_request_(?P<path>/[^?]*)?")
SCHEME = "AWS4-HMAC-SHA256 "
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class Refusal:
    """One of API Gateway's error answers (a 403, or the 502 of an asynchronous call): its
    x-amzn-ErrorType and message."""

    error_type: str
    message: str

    def body(self) -> bytes:
        return json.dumps({"message": self.message}).encode()


MISSING_TOKEN = Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
UNKNOWN_KEY = Refusal("UnrecognizedClientException",
                      "The security token included in the request is invalid.")
MISMATCH = Refusal("InvalidSignatureException",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method. Consult the "
                   "service documentation for details.")
# what API Gateway answers when Lambda's answer is no proxy response (an Event's empty 202)
INTERNAL_ERROR = Refusal("InternalServerErrorException", "Internal server error")
INCOMPLETE = Refusal("IncompleteSignatureException",
                     "Authorization header requires 'Credential', 'Signature' and "
                     "'SignedHeaders' parameters and an 'X-Amz-Date' header.")


class IamGateway(LatencyProxy):
    """The front's state: the upstream, the keys it knows (access key -> secret) and the
    region it signs for."""

    def __init__(self, upstream: str, secrets: Mapping[str, str], region: str) -> None:
        super().__init__(upstream, delay_s=0.0)
        self.secrets, self.region = dict(secrets), region
        key, secret = next(iter(self.secrets.items()))
        self._apigateway = boto3.client("apigateway", endpoint_url=upstream, region_name=region,
                                        aws_access_key_id=key, aws_secret_access_key=secret)

    def _method(self, api_id: str, method: str, path: str) -> dict[str, str] | None:
        """The restApiId, resourceId and httpMethod API Gateway routes `method path` to."""
        resources = {r["path"]: r for r in self._apigateway.get_resources(
            restApiId=api_id, limit=500)["items"]}
        resource = resources.get(route(resources, path) or "")
        methods = (resource or {}).get("resourceMethods") or {}
        chosen = method if method in methods else "ANY" if "ANY" in methods else None
        if chosen is None or resource is None:
            return None
        return {"restApiId": api_id, "resourceId": resource["id"], "httpMethod": chosen}

    def authorization(self, api_id: str, method: str, path: str) -> str:
        """The authorizationType of the method API Gateway routes `method path` to (NONE when
        nothing matches: LocalStack then answers as API Gateway does)."""
        found = self._method(api_id, method, path)
        if found is None:
            return "NONE"
        return self._apigateway.get_method(**found).get("authorizationType", "NONE")

    def invocation_type(self, method: str, url: str, headers: Any) -> str | None:
        """The Lambda invocation type the integration's request parameters give this
        execute-api request (`integration.request.header.X-Amz-Invocation-Type` mapped from a
        header, a query parameter or a constant), or None when it maps none."""
        found = EXECUTE_API.match(urlsplit(url).path)
        where = found and self._method(found["api"], method, found["path"] or "/")
        if not where:
            return None
        mapped = self._apigateway.get_integration(**where).get("requestParameters", {})
        source = mapped.get(INVOCATION_TYPE, "")
        if source.startswith("'"):
            return source.strip("'")
        kind, _, name = source.removeprefix("method.request.").partition(".")
        if kind == "header":
            return {k.lower(): v for k, v in headers.items()}.get(name.lower())
        if kind == "querystring":
            return parse_qs(urlsplit(url).query).get(name, [None])[0]
        return None

    def refusal(self, method: str, url: str, headers: Any, body: bytes) -> Refusal | None:
        """API Gateway's 403 for this execute-api request, or None to let it through."""
        found = EXECUTE_API.match(urlsplit(url).path)
        if found is None or self.authorization(found["api"], method,
                                               found["path"] or "/") != "AWS_IAM":
            return None
        return self.signature_refusal(method, url, headers, body)

    def signature_refusal(self, method: str, url: str, headers: Any,
                          body: bytes) -> Refusal | None:
        """Why the request's SigV4 signature is not valid for this front, or None."""
        headers = {name.lower(): value for name, value in headers.items()}
        authorization = headers.get("authorization")
        if not authorization:
            return MISSING_TOKEN
        fields = dict(part.strip().partition("=")[::2]
                      for part in authorization.removeprefix(SCHEME).split(","))
        timestamp = headers.get("x-amz-date")
        if not (authorization.startswith(SCHEME) and timestamp
                and {"Credential", "Signature", "SignedHeaders"} <= fields.keys()):
            return INCOMPLETE
        secret = self.secrets.get(fields["Credential"].partition("/")[0])
        if secret is None:
            return UNKNOWN_KEY
        if (expired := _expired(timestamp)) is not None:
            return expired
        signed = {name: headers.get(name, "") for name in fields["SignedHeaders"].split(";")}
        request = AWSRequest(method=method, url=url, data=body, headers=signed)
        request.context["timestamp"] = timestamp
        signer = SigV4Auth(Credentials(fields["Credential"].partition("/")[0], secret),
                           "execute-api", self.region)
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request)
        return None if expected == fields["Signature"] else MISMATCH


def _expired(timestamp: str) -> Refusal | None:
    """API Gateway's refusal of a signature more than 5 minutes away from now."""
    try:
        signed = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(
            tzinfo=datetime.UTC)
    except ValueError:
        return INCOMPLETE
    now = datetime.datetime.now(datetime.UTC)
    if abs(now - signed) <= CLOCK_SKEW:
        return None
    earliest = (now - CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)
    return Refusal("InvalidSignatureException", f"Signature expired: {timestamp} is now "
                   f"earlier than {earliest} ({now.strftime(SIGV4_TIMESTAMP)} - 5 min.)")


def route(paths: Iterable[str], request_path: str) -> str | None:
    """The resource path API Gateway routes `request_path` to, or None."""
    segments = [s for s in request_path.split("/") if s]
    scored = [(score, path) for path in paths
              if (score := _match([s for s in path.split("/") if s], segments)) is not None]
    return max(scored)[1] if scored else None


def _match(template: list[str], segments: list[str]) -> tuple[int, ...] | None:
    """How specifically `template` matches `segments` per position (2 literal, 1 `{name}`,
    0 `{name+}`), or None."""
    score: list[int] = []
    for i, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            return (*score, 0) if i == len(template) - 1 and len(segments) > i else None
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            score.append(1)
        elif part == segments[i]:
            score.append(2)
        else:
            return None
    return tuple(score) if len(template) == len(segments) else None


class _Front(Forwarder):
    """Answers API Gateway's 403 for an AWS_IAM method called without a valid signature;
    passes everything else on."""

    state: IamGateway

    def forward(self) -> None:
        body, length = self._request_body()
        if EXECUTE_API.match(self.path):
            if not isinstance(body, bytes):
                body = body.read() if hasattr(body, "read") else b"".join(body)
                length = len(body)
            url = f"http://{self.headers.get('Host', '')}{self.path}"
            if (refusal := self.state.refusal(self.command, url, self.headers, body)):
                self._refuse(refusal)
                return
            if self.state.invocation_type(self.command, url, self.headers) == "Event":
                self._invoke_asynchronously(body)
                return
        self.pass_on(body, length)

    def _invoke_asynchronously(self, body: bytes) -> None:
        """API Gateway's Lambda proxy call of type Event: Lambda queues the event and answers
        202 with no body, which is no proxy response, so the caller gets 502 at once; the
        function runs on its own (here: LocalStack runs it, its answer is dropped)."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        threading.Thread(target=_send_and_drop, daemon=True, args=(
            self.state.upstream, self.command, self.path, headers, body)).start()
        self._answer(502, "Bad Gateway", INTERNAL_ERROR.body(), INTERNAL_ERROR.error_type)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = forward

    def _refuse(self, refusal: Refusal) -> None:
        self._answer(403, "Forbidden", refusal.body(), refusal.error_type)

    def _answer(self, status: int, reason: str, body: bytes, error_type: str) -> None:
        self.send_response_only(status, reason)
        for name, value in (("Content-Type", "application/json"),
                            ("x-amzn-ErrorType", error_type),
                            ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _send_and_drop(upstream: tuple[str, int], method: str, path: str,
                   headers: dict[str, str], body: bytes) -> None:
    connection = http.client.HTTPConnection(*upstream, timeout=300)
    try:
        connection.request(method, path, body=body, headers=headers)
        connection.getresponse().read()
    except OSError:
        pass  # nobody waits for an asynchronous invocation's answer
    finally:
        connection.close()


@contextmanager
def iam_gateway(upstream: str, secrets: Mapping[str, str],
                region: str) -> Iterator[IamGateway]:
    """A running front for `upstream` on a free 127.0.0.1 port; stopped on exit."""
    front = IamGateway(upstream, secrets, region)

    class Handler(_Front):
        state = front

    with serving(front, Handler):
        yield front
