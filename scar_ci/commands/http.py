"""`scar-ci invoke`: a request through the function's API Gateway URL, as SCAR's `invoke`."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from scar_ci.aws.session import Aws
from scar_ci.commands.invocation import (
    ASYNC_PAYLOAD_LIMIT,
    parse_variables,
    quoted,
    read_limited,
)
from scar_ci.commands.output import write_output
from scar_ci.commands.target import ScopeOf, single, targets
from scar_ci.errors import UsageError, UserError

API_PAYLOAD_LIMIT = 10 * 1024 * 1024  # API Gateway's request payload limit
TIMEOUT_S = 60  # API Gateway itself gives up after 29 s
ASYNC_HEADER = "X-Amz-Invocation-Type"
# API Gateway's answer to an asynchronous Lambda proxy call: Lambda's 202 has no body, which is
# no proxy response; SCAR takes it as "launched" too
ASYNC_ACCEPTED = 502


@dataclass
class Request:
    """What to send: the query, a body and its type, and whether to wait for the function."""

    params: dict[str, str | list[str]] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = ""
    asynchronous: bool = False

    def check(self) -> None:
        """API Gateway's limit, and Lambda's for an asynchronous event, as a clear error."""
        size = len(self.body or b"")
        limit = ASYNC_PAYLOAD_LIMIT if self.asynchronous else API_PAYLOAD_LIMIT
        if size > limit:
            how = "an asynchronous request" if self.asynchronous else "API Gateway"
            raise UsageError(f"the request body is {_size(size)}; {how} accepts at most "
                             f"{_size(limit)}: upload the file to the function's input folder "
                             "instead (scar-ci put)")

    def http(self, url: str, signer: Aws | None = None) -> urllib.request.Request:
        """The HTTP request; with `signer`, signed with its credentials (SigV4, AWS_IAM)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise UserError(f"the function's API URL {url!r} is not http(s)")
        # RFC 3986 quoting (%20, not '+'): the form SigV4's canonical query string expects
        full = (f"{url}?{urlencode(self.params, doseq=True, quote_via=quote)}" if self.params
                else url)
        headers = {ASYNC_HEADER: "Event"} if self.asynchronous else {}
        if self.body is not None:
            headers["Content-Type"] = self.content_type
        method = "POST" if self.body is not None else "GET"
        if signer is not None:
            headers = sigv4_headers(signer, method, full, headers, self.body)
        return urllib.request.Request(full, data=self.body, headers=headers,  # noqa: S310
                                      method=method)


def sigv4_headers(aws: Aws, method: str, url: str, headers: dict[str, str],
                  body: bytes | None) -> dict[str, str]:
    """`headers` plus the SigV4 signature (service execute-api) made with `aws`'s credentials."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = aws.session.get_credentials()
    if credentials is None:
        raise UserError("the function's API requires AWS_IAM-signed requests and no AWS "
                        "credentials were found; configure them (aws configure, AWS_PROFILE, "
                        "or the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables)")
    request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", aws.region).add_auth(request)
    return dict(request.headers.items())


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 1024:.0f} KiB"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def send(url: str, request: Request, signer: Aws | None = None) -> Reply:
    """Send `request` to `url` (signed with `signer`'s credentials when given); any HTTP
    status comes back as a Reply."""
    request.check()
    try:
        with urllib.request.urlopen(request.http(url, signer),  # noqa: S310
                                    timeout=TIMEOUT_S) as answer:
            return Reply(answer.status, answer.read(), dict(answer.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), dict(error.headers or {}))
    except (urllib.error.URLError, TimeoutError) as error:
        raise UserError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None


def decoded(body: bytes) -> bytes:
    """The function's output: the supervisor answers in base64, which API Gateway passes on
    unless the API declares binary media types (then the body is already raw)."""
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return body


def parameters(values: list[str]) -> dict[str, str | list[str]]:
    """`-p NAME=VALUE` pairs, or SCAR's `-p '{"k1": "v1", "k2": ["v2", "v3"]}'` (a list gives
    the parameter once per value)."""
    found: dict[str, str | list[str]] = {}
    for value in values:
        if not value.lstrip().startswith("{"):
            found.update(parse_variables([value], "-p"))
            continue
        try:
            document = json.loads(value)
        except ValueError as error:
            raise UsageError(f"-p: not a JSON object ({error})") from None
        for name, given in document.items():
            items = given if isinstance(given, list) else [given]
            if not all(isinstance(v, str | int | float | bool) for v in items):
                raise UsageError(f"-p: {name!r} must be a text, a number or a list of them")
            shown = [json.dumps(v) if isinstance(v, bool) else str(v) for v in items]
            parse_variables([f"{name}=x"], "-p")  # the same names as NAME=VALUE
            found[name] = shown if isinstance(given, list) else shown[0]
    return found


def request_of(args: argparse.Namespace) -> Request:
    request = Request(parameters(args.parameters), asynchronous=bool(args.asynchronous))
    if args.data_binary:
        try:
            request.body = read_limited(Path(args.data_binary), API_PAYLOAD_LIMIT)
        except OSError as error:
            raise UsageError(f"-db {args.data_binary}: {error.strerror}") from None
        request.content_type = "application/octet-stream"
    elif args.json_data is not None:
        try:
            json.loads(args.json_data)
        except ValueError as error:
            raise UsageError(f"-jd: not JSON ({error})") from None
        request.body, request.content_type = args.json_data.encode(), "application/json"
    return request


def cmd_invoke(args: argparse.Namespace, scope_of: ScopeOf) -> int:
    """Call the function's API: GET with -p parameters, POST with -db FILE or -jd JSON;
    signed (SigV4) when the API requires AWS_IAM."""
    from scar_ci.aws.apigateway import api_id_in, needs_signature
    from scar_ci.commands.services import invoke_service, service_target

    if (service := service_target(args, scope_of)) is not None:
        return invoke_service(args, service)
    from scar_ci.deploy.engine import api_urls

    aws, found = targets(args, scope_of)
    target = single(found, args)
    args.asynchronous = target.asynchronous(args.asynchronous)
    url = dict(api_urls(aws, target.scope)).get(target.name)
    if not url:
        raise UserError(f"{target.name} has no API: add api_gateway to its FDL entry and "
                        "deploy, or use 'scar-ci run'")
    signer = aws if needs_signature(aws, api_id_in(url)) else None
    reply = send(url, request_of(args), signer)
    output = decoded(reply.body)
    if args.asynchronous and reply.status in (*range(200, 300), ASYNC_ACCEPTED):
        print(f"Function '{target.name}' launched successfully.")
        return 0
    if reply.status >= 300:
        raise UserError(quoted(f"{url} answered HTTP {reply.status}: "
                               f"{output.decode('utf-8', 'replace').strip()[-2000:]}"))
    headers = {name.lower(): value for name, value in reply.headers.items()}
    for header, label in (("amz-lambda-request-id", "Request Id"),
                          ("amz-log-group-name", "Log Group Name"),
                          ("amz-log-stream-name", "Log Stream Name")):
        if header in headers:
            print(f"{label}: {headers[header]}", file=sys.stderr)
    write_output(output, args.output)
    return 0
