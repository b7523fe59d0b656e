"""A local stand-in for GitHub's REST API: issue comments and deployments of repositories.

It records every call (method, path, query, JSON body, Authorization header) and answers like
api.github.com for what scar-action uses: list/create issue comments, edit a comment, create
and list deployments, create deployment statuses, and GraphQL's `viewer` (the token's own
login). Lists are paged with `Link: rel="next"`; objects carry their API `url` and comments
their author (`users` maps each accepted token to its login: the workflow token is
`github-actions[bot]`, OTHER_TOKEN someone else). A wrong token gets 401; `refuse(status)` makes
the next calls fail the way GitHub does, `fail_next(status, n)` only the next n calls.
The `fake_github` fixture gives a fresh server per test.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from scar_testbed.http_stub import serving

TOKEN = "ghs_fake-workflow-token"  # noqa: S105 - what the fake accepts
OTHER_TOKEN = "ghp_fake-other-user"  # noqa: S105 - another account's token
BOT = "github-actions[bot]"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str


@dataclass
class FakeGitHub:
    """The server's state: comments by issue, deployments, statuses, and the calls seen."""

    url: str = ""
    page_size: int = 30
    calls: list[Call] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, str] = field(default_factory=dict)  # number -> open, closed or merged
    branches: set[str] = field(default_factory=set)
    refusing: int | None = None
    failing: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    users: dict[str, dict[str, str]] = field(default_factory=lambda: {
        TOKEN: {"login": BOT, "type": "Bot"}, OTHER_TOKEN: {"login": "mallory", "type": "User"}})
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, status: int | None) -> None:
        """Answer every following call with `status` (None: answer normally again)."""
        self.refusing = status

    def fail_next(self, status: int, times: int = 1, **headers: str) -> None:
        """Answer the next `times` calls with `status` (and `headers`, e.g. Retry_After="0"),
        whatever they ask."""
        self.failing += [(status, {k.replace("_", "-"): v for k, v in headers.items()})] * times

    def mutating(self) -> list[tuple[str, str]]:
        """The (method, path) of every call that was not a GET (nor a GraphQL query)."""
        return [(c.method, c.path) for c in self.calls
                if c.method != "GET" and c.path != "/graphql"]

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- the API ---------------------------------------------------------------------------

    def handle(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        scheme, _, token = call.authorization.partition(" ")
        user = self.users.get(token) if scheme.lower() in ("bearer", "token") else None
        if user is None:
            return 401, {"message": "Bad credentials"}, {}
        if self.failing:
            status, headers = self.failing.pop(0)
            return status, {"message": "Server Error" if status >= 500 else
                            "You have exceeded a secondary rate limit."}, headers
        if self.refusing:
            return self.refusing, {"message": "Resource not accessible by integration"}, {}
        for method, pattern, action in _ROUTES:
            found = re.fullmatch(pattern, call.path)
            if found and method == call.method:
                return action(self, call, user, *found.groups())
        return 404, {"message": "Not Found"}, {}

    def _page(self, call: Call, items: list[Any]) -> tuple[int, Any, dict[str, str]]:
        size = min(int(call.query.get("per_page", 30)), self.page_size)
        page = int(call.query.get("page", 1))
        chunk = items[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(items):
            headers["Link"] = (f'<{self.url}{call.path}?per_page={size}&page={page + 1}>; '
                               'rel="next"')
        return 200, chunk, headers

    def viewer(self, call: Call, user: dict[str, str]):
        if "viewer" not in (call.body or {}).get("query", ""):
            return 200, {"errors": [{"message": "only viewer is served here"}]}, {}
        return 200, {"data": {"viewer": {"login": user["login"]}}}, {}

    def list_comments(self, call: Call, _user: dict[str, str], _repo: str, number: str):
        return self._page(call, self.comments.get(int(number), []))

    def create_comment(self, call: Call, user: dict[str, str], repo: str, number: str):
        ident = self.new_id()
        comment = {"id": ident, "body": call.body["body"], "user": dict(user),
                   "url": f"{self.url}/repos/{repo}/issues/comments/{ident}"}
        self.comments.setdefault(int(number), []).append(comment)
        return 201, comment, {}

    def edit_comment(self, call: Call, user: dict[str, str], _repo: str, ident: str):
        for comment in (c for cs in self.comments.values() for c in cs):
            if comment["id"] == int(ident):
                if comment["user"]["login"] != user["login"]:
                    return 403, {"message": "Resource not accessible by integration"}, {}
                comment["body"] = call.body["body"]
                return 200, comment, {}
        return 404, {"message": "Not Found"}, {}

    def create_deployment(self, call: Call, _user: dict[str, str], repo: str):
        ident = self.new_id()
        deployment = {"id": ident, **call.body,
                      "url": f"{self.url}/repos/{repo}/deployments/{ident}"}
        self.deployments.append(deployment)
        return 201, deployment, {}

    def list_deployments(self, call: Call, _user: dict[str, str], _repo: str):
        wanted = call.query.get("environment")
        return self._page(call, [d for d in self.deployments
                                 if wanted is None or d["environment"] == wanted])

    def create_status(self, call: Call, _user: dict[str, str], _repo: str, ident: str):
        if not any(d["id"] == int(ident) for d in self.deployments):
            return 404, {"message": "Not Found"}, {}
        status = {"id": self.new_id(), **call.body}
        self.statuses.setdefault(int(ident), []).append(status)
        return 201, status, {}

    def get_pull(self, call: Call, _user: dict[str, str], repo: str, number: str):
        state = self.pulls.get(int(number))
        if state is None:
            return 404, {"message": "Not Found"}, {}
        url = f"{self.url}/repos/{repo}/pulls/{number}"
        return 200, {"url": url, "number": int(number), "state": "open" if state == "open"
                     else "closed", "merged": state == "merged"}, {}

    def get_branch(self, call: Call, _user: dict[str, str], repo: str, name: str):
        if unquote(name) not in self.branches:
            return 404, {"message": "Branch not found"}, {}
        return 200, {"name": unquote(name), "protected": False,
                     "_links": {"self": f"{self.url}/repos/{repo}/branches/{name}"}}, {}


_REPO = r"/repos/([^/]+/[^/]+)"
_ROUTES = [
    ("POST", r"/graphql", FakeGitHub.viewer),
    ("GET", rf"{_REPO}/issues/(\d+)/comments", FakeGitHub.list_comments),
    ("POST", rf"{_REPO}/issues/(\d+)/comments", FakeGitHub.create_comment),
    ("PATCH", rf"{_REPO}/issues/comments/(\d+)", FakeGitHub.edit_comment),
    ("POST", rf"{_REPO}/deployments", FakeGitHub.create_deployment),
    ("GET", rf"{_REPO}/deployments", FakeGitHub.list_deployments),
    ("POST", rf"{_REPO}/deployments/(\d+)/statuses", FakeGitHub.create_status),
    ("GET", rf"{_REPO}/pulls/(\d+)", FakeGitHub.get_pull),
    ("GET", rf"{_REPO}/branches/(.+)", FakeGitHub.get_branch),
]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = Call(self.command, parts.path,
                        {k: v[-1] for k, v in parse_qs(parts.query).items()},
                        json.loads(raw) if raw else None, self.headers.get("Authorization", ""))
            with fake._lock:
                fake.calls.append(call)
                status, answer, headers = fake.handle(call)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub API on a free 127.0.0.1 port, stopped after the test."""
    fake = FakeGitHub()
    with serving(_handler(fake)) as fake.url:
        yield fake
