"""A reverse proxy on 127.0.0.1 that makes LocalStack look far away, and counts what it is asked.

Every request waits `delay_s` (a stand-in for a network round trip) and is then passed on to
the upstream, bodies streamed both ways. Requests are counted by AWS service (the SigV4
credential scope), operation and whether the operation is a read, with the most requests in
flight at once and each one's span: when it arrived, when it was passed on (after the delay)
and when its answer was relayed, so that the upstream's own time is told from the delay;
scar-ci's scope lock (SSM parameters under /scar-ci-locks) is counted as its own service,
`scope lock`, and not among the mutating requests of the deployment. boto3 reaches the proxy
through `AWS_ENDPOINT_URL` alone.

    with latency_proxy(localstack_url, delay_s=0.04) as proxy:
        ...  # run a client with AWS_ENDPOINT_URL=proxy.url
        print(proxy.counts().requests, proxy.counts().max_in_flight)
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scar_ci.aws.session import READ_PREFIXES
from scar_ci.deploy.lock import ROOT as LOCK_ROOT

CHUNK = 64 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "content-length"}
CREDENTIAL = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/")
LOCK = "scope lock"  # the service the scope lock's requests are counted under
Operation = tuple[str, str]
# Requests a deploy makes once whatever the number of functions: the account, the scope's
# tagging pass, the account-wide listings, the supervisor layer's versions (and its publishing)
ACCOUNT_WIDE = {("sts", "GetCallerIdentity"), ("tagging", "GetResources"),
                ("iam", "ListRoles"), ("lambda", "ListFunctions"),
                ("lambda", "ListLayerVersions"), ("lambda", "PublishLayerVersion"),
                ("logs", "DescribeLogGroups"), ("s3", "ListBuckets"),
                ("apigateway", "GetRestApis"), ("ssm", "DescribeParameters"),
                ("ecr", "DescribeRepositories"), ("batch", "DescribeComputeEnvironments"),
                ("batch", "DescribeJobQueues"), ("batch", "DescribeJobDefinitions")}
Span = tuple[float, float, float]  # time.monotonic(): arrived, passed on, answered


@dataclass
class Counts:
    """What went through the proxy: requests per (service, operation), the peak of requests
    in flight at once, and every request's span."""

    requests: Counter[Operation] = field(default_factory=Counter)
    max_in_flight: int = 0
    spans: list[Span] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def mutating(self) -> int:
        """Requests that may change the deployment (the scope lock's are bookkeeping)."""
        return sum(n for (service, operation), n in self.requests.items()
                   if service != LOCK and not is_read(operation))

    @property
    def lock(self) -> int:
        """Requests of the scope lock (taking, checking and releasing its lease)."""
        return sum(n for (service, _), n in self.requests.items() if service == LOCK)

    @property
    def account_wide(self) -> int:
        """The scope lock's requests and the ACCOUNT_WIDE ones: what does not grow with the
        number of functions."""
        return self.lock + sum(n for op, n in self.requests.items() if op in ACCOUNT_WIDE)

    def upstream_s(self) -> float:
        """The upstream's own time, summed over the requests (their delay aside)."""
        return sum(answered - passed for _, passed, answered in self.spans)

    def busy_s(self, *, upstream: bool) -> float:
        """How long at least one request was in flight (`upstream`: at the upstream, its
        delay over)."""
        spans = sorted((passed if upstream else arrived, answered)
                       for arrived, passed, answered in self.spans)
        total, end = 0.0, float("-inf")
        for start, stop in spans:
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total


def is_read(operation: str) -> bool:
    """An operation that changes nothing (by AWS's naming: Get…, List…, Describe…, Head…)."""
    return operation.startswith(READ_PREFIXES)


class LatencyProxy:
    """The proxy's state, shared by its request threads; `url` is where clients point."""

    def __init__(self, upstream: str, delay_s: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        address = urlsplit(upstream)
        self.upstream = (address.hostname or "127.0.0.1", address.port or 80)
        self.delay_s = delay_s
        self.sleep = sleep
        self.url = ""
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._in_flight = 0
        self._counts = Counts()

    def counts(self, settle_s: float = 5.0) -> Counts:
        """A copy of the counts so far, once the requests in flight are done (up to `settle_s`:
        a client has its answer a moment before the proxy's thread records the span)."""
        with self._settled:
            self._settled.wait_for(lambda: self._in_flight == 0, timeout=settle_s)
            return Counts(Counter(self._counts.requests), self._counts.max_in_flight,
                          list(self._counts.spans))

    def reset(self) -> None:
        """Start counting afresh (between the steps of a benchmark)."""
        with self._lock:
            self._counts = Counts(max_in_flight=self._in_flight)

    @contextmanager
    def request(self, operation: Operation) -> Iterator[None]:
        """Count one request while it is in flight, delayed as the proxy says."""
        arrived = passed = time.monotonic()
        with self._lock:
            self._counts.requests[operation] += 1
            self._in_flight += 1
            self._counts.max_in_flight = max(self._counts.max_in_flight, self._in_flight)
        try:
            self.sleep(self.delay_s)
            passed = time.monotonic()
            yield
        finally:
            answered = time.monotonic()
            with self._settled:
                self._in_flight -= 1
                self._counts.spans.append((arrived, passed, answered))
                self._settled.notify_all()


@contextmanager
def latency_proxy(upstream: str, delay_s: float = 0.0,
                  sleep: Callable[[float], None] = time.sleep) -> Iterator[LatencyProxy]:
    """A running proxy to `upstream` on a free 127.0.0.1 port; stopped on exit."""
    proxy = LatencyProxy(upstream, delay_s, sleep)

    class Handler(Forwarder):
        state = proxy

    with serving(proxy, Handler):
        yield proxy


@contextmanager
def serving(proxy: LatencyProxy, handler: type[BaseHTTPRequestHandler]) -> Iterator[None]:
    """`handler` serving on a free 127.0.0.1 port (then `proxy.url`) until exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Forwarder(BaseHTTPRequestHandler):
    """Passes each request on to the upstream and streams the answer back (the base of the
    handlers that answer some requests themselves, such as iam_gateway's)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no delayed-ACK wait
    state: LatencyProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def forward(self) -> None:
        self.pass_on(*self._request_body())

    def pass_on(self, body: Any, length: int | None) -> None:
        """Send the request, with `body` of `length` bytes, upstream and relay the answer."""
        operation = identify(self.command, self.path, self.headers, body)
        with self.state.request(operation):
            upstream = http.client.HTTPConnection(*self.state.upstream, timeout=300)
            try:
                upstream.connect()
                upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if length is not None:
                    headers["Content-Length"] = str(length)
                upstream.request(self.command, self.path, body=body, headers=headers)
                self._relay(upstream.getresponse())
            finally:
                upstream.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = forward

    def _request_body(self) -> tuple[Any, int | None]:
        """The body to pass on (bytes when small enough to read the operation from, else a
        stream) and its length (None: sent chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunks(), None
        length = int(self.headers.get("Content-Length") or 0)
        if "x-www-form-urlencoded" in self.headers.get("Content-Type", "") or length <= CHUNK:
            return self.rfile.read(length), length
        return _Limited(self.rfile, length), length

    def _chunks(self) -> Iterator[bytes]:
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            yield self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass

    def _relay(self, answer: http.client.HTTPResponse) -> None:
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        length = answer.getheader("Content-Length")
        bodiless = self.command == "HEAD" or answer.status in (204, 304)
        if length is not None:
            self.send_header("Content-Length", length)
        elif not bodiless:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if bodiless:
            return
        while data := answer.read(CHUNK):
            self.wfile.write(data if length is not None else b"%x\r\n%s\r\n" % (len(data), data))
        if length is None:
            self.wfile.write(b"0\r\n\r\n")


class _Limited:
    """The next `length` bytes of a stream, read in pieces (http.client streams file objects)."""

    def __init__(self, stream: Any, length: int) -> None:
        self.stream, self.left = stream, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.stream.read(size) if size else b""
        self.left -= len(data)
        return data


def identify(method: str, path: str, headers: Any, body: Any) -> Operation:
    """(service, operation) of an AWS request: the service from the signature's credential
    scope (`scope lock` for SSM requests on scar-ci's lock parameters); the operation from
    X-Amz-Target (JSON protocols), Action= (query protocols) or the method and path matched
    against botocore's model of the service (REST protocols)."""
    found = CREDENTIAL.search(headers.get("Authorization", ""))
    service = found.group(1) if found else "unsigned"
    if service == "ssm" and isinstance(body, bytes) and f'"{LOCK_ROOT}/'.encode() in body:
        service = LOCK
    if target := headers.get("X-Amz-Target"):
        return service, target.rpartition(".")[2]
    if isinstance(body, bytes) and b"Action=" in body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            return service, action
    split = urlsplit(path)
    present = set(parse_qs(split.query, keep_blank_values=True))
    present |= {f"header:{name.lower()}" for name in headers}
    return service, _rest_operation(service, method, split.path, present) or (
        f"{method} {split.path}")


def _rest_operation(service: str, method: str, path: str, present: set[str]) -> str | None:
    """The REST operation whose method, path template, query keys and required headers
    match (`present`: the query's keys and `header:<name>`), the most specific one first."""
    best: tuple[tuple[int, int], str] | None = None
    for name, op_method, pattern, needs, literal in _rest_routes(service):
        if op_method == method and needs <= present and pattern.fullmatch(path):
            score = (len(needs), literal)
            if best is None or score > best[0]:
                best = (score, name)
    return best[1] if best else None


@cache
def _rest_routes(service: str) -> list[tuple[str, str, re.Pattern[str], set[str], int]]:
    """(operation, method, path regex, required query keys and headers, literal length), from
    botocore's model of the service."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return []
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template, _, query = http.get("requestUri", "/").partition("?")
        regex = re.sub(r"\\\{[^}]*\\\+\\\}", ".+", re.escape(template))
        regex = re.sub(r"\\\{[^}]*\\\}", "[^/]+", regex)
        literal = len(re.sub(r"\{[^}]*\}", "", template))
        needs = {part.partition("=")[0] for part in query.split("&") if part}
        needs |= _required_headers(model.operation_model(name).input_shape)
        routes.append((name, http.get("method", "GET"), re.compile(regex.rstrip("/") + "/?"),
                       needs, literal))
    return routes


def _required_headers(shape: Any) -> set[str]:
    """`header:<name>` for each header the operation's input requires (x-amz-copy-source
    tells CopyObject from PutObject)."""
    if shape is None:
        return set()
    return {f"header:{shape.members[m].serialization['name'].lower()}"
            for m in shape.required_members
            if shape.members[m].serialization.get("location") == "header"}
