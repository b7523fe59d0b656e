"""A reverse proxy on 127.0.0.1 in front of a real HTTP service that fails on demand, the way
networks and overloaded registries do: `fail_next(status, n)` answers the next n requests
with that status itself, `drop_next(n)` closes the connection without an answer. Everything
else is forwarded (Host kept, bodies streamed, HTTP/1.1 keep-alive), and it counts requests
and the client connections they came on."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from scar_testbed.http_stub import serving

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


@dataclass
class FlakyProxy:
    """The proxy's plan of failures and what it saw."""

    upstream: str
    url: str = ""
    plan: list[int] = field(default_factory=list)  # a status, or 0 for a dropped connection
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with `status` (a JSON error body)."""
        with self._lock:
            self.plan += [status] * times

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next `times` requests without answering."""
        with self._lock:
            self.plan += [0] * times

    def fail_always(self, status: int) -> None:
        """Answer every request with `status` until `heal()`."""
        with self._lock:
            self.plan = [status] * 10_000

    def heal(self) -> None:
        with self._lock:
            self.plan.clear()

    def _next_failure(self) -> int | None:
        with self._lock:
            return self.plan.pop(0) if self.plan else None


def _handler(proxy: FlakyProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with proxy._lock:
                proxy.connections += 1

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            failure = proxy._next_failure()
            if failure == 0:
                proxy.requests.append((self.command, self.path, 0))
                self.close_connection = True
                return
            if failure:
                data = b'{"errors": [{"code": "UNAVAILABLE", "message": "flaky proxy"}]}'
                proxy.requests.append((self.command, self.path, failure))  # before the answer
                self.send_response(failure)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if failure == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)
                return
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = b"" if self.command == "HEAD" else answer.read()
                # recorded before the client has its answer, so that it sees it counted
                proxy.requests.append((self.command, self.path, answer.status))
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(key, value)
                length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                upstream.close()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@contextmanager
def flaky_proxy(upstream: str) -> Iterator[FlakyProxy]:
    """A FlakyProxy for `upstream` (`http://host:port`) on a free port, stopped on exit."""
    proxy = FlakyProxy(upstream)
    with serving(_handler(proxy)) as proxy.url:
        yield proxy
