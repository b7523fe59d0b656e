"""A local stand-in for a Oneprovider's CDMI interface, as far as SCAR's supervisor uses it:
`PUT /cdmi/<space>/<path>` of a file's bytes with an `X-Auth-Token` header.

It keeps the files by path, answers 201 for a new file and 204 for a replaced one, 401 for
a wrong token, 404 for an unknown space, and `refuse(status)` for every following call.
The `fake_onedata` fixture gives a fresh one per test (plain http on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

import pytest

from scar_testbed.http_stub import serving

TOKEN = "onedata-test-token"  # noqa: S105 - what the fake accepts
SPACE = "test-space"


@dataclass
class FakeOneprovider:
    """The space's files by path below the space, and the calls seen (method, path)."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    refusing: int | None = None

    def refuse(self, status: int | None) -> None:
        """Answer every following call with `status` (None: answer normally again)."""
        self.refusing = status

    def put(self, path: str, token: str, body: bytes) -> int:
        """The status of a PUT of `body` at `path` (URL-decoded, below /cdmi/)."""
        space, _, inside = path.partition("/")
        if self.refusing is not None:
            return self.refusing
        if token != TOKEN:
            return 401
        if space != SPACE or not inside:
            return 404
        status = 204 if inside in self.files else 201
        self.files[inside] = body
        return status

    def settings(self) -> dict[str, str]:
        """FDL's storage_providers.onedata.<id> for this server."""
        return {"oneprovider_host": self.url, "token": TOKEN, "space": SPACE}


def _handler(fake: FakeOneprovider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            fake.calls.append(("PUT", self.path))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = 404
            if self.path.startswith("/cdmi/"):
                status = fake.put(unquote(self.path.removeprefix("/cdmi/")),
                                  self.headers.get("X-Auth-Token", ""), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_onedata() -> Iterator[FakeOneprovider]:
    """A fresh stand-in Oneprovider on a free 127.0.0.1 port, stopped after the test."""
    fake = FakeOneprovider()
    with serving(_handler(fake)) as fake.url:
        yield fake
