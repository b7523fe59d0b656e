"""A stand-in OpenID Connect token endpoint, in the place EGI Check-in has for an OSCAR cluster
integrated with it: the refresh-token grant of RFC 6749 section 6 (`POST` a form with
`grant_type=refresh_token`, `refresh_token`, `client_id`, `scope`; 200 with `access_token`,
`token_type`, `expires_in`, or 400 `invalid_grant`), access tokens that are JWTs with `exp`
(oscar-python reads it to know when to refresh). The stand-in OSCAR accepts the tokens it
issues, as a cluster accepts its issuer's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from scar_testbed.fake_oscar import FakeOscar
from scar_testbed.http_stub import send_json, serving


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class OidcIssuer:
    """The issuer's state: refresh tokens by client, what it issued and was asked."""

    issued: set[str]  # access tokens issued (the stand-in OSCAR's accepted OIDC tokens)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> client
    lifetime_s: int = 300
    asked: list[dict[str, str]] = field(default_factory=list)  # grants asked, without secrets
    url: str = ""  # the token endpoint
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def grant(self, client_id: str = "token-portal") -> str:
        """A new refresh token for `client_id`."""
        token = f"rt-{secrets.token_hex(12)}"
        self.refresh_tokens[token] = client_id
        return token

    def access_token(self, subject: str = "user@egi.eu", lifetime_s: int | None = None) -> str:
        """A signed JWT access token (expired when `lifetime_s` is negative)."""
        now = int(time.time())
        claims = {"iss": self.url, "sub": subject, "iat": now,
                  "exp": now + (self.lifetime_s if lifetime_s is None else lifetime_s)}
        signed = ".".join(_b64url(json.dumps(part).encode()) for part in (
            {"typ": "JWT", "alg": "HS256"}, claims))
        signature = hmac.new(self._key, signed.encode(), hashlib.sha256).digest()
        token = f"{signed}.{_b64url(signature)}"
        if claims["exp"] > now:
            self.issued.add(token)
        return token

    def answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.asked.append({k: v for k, v in form.items() if k != "refresh_token"})
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        client = self.refresh_tokens.get(form.get("refresh_token", ""))
        if client is None or client != form.get("client_id"):
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid refresh token"}
        return 200, {"access_token": self.access_token(), "token_type": "Bearer",
                     "expires_in": self.lifetime_s, "scope": form.get("scope", "")}


def issuer_handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            send_json(self, *(issuer.answer(form) if self.path == "/token"
                              else (404, {"error": "not found"})))

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture
def oidc_issuer(fake_oscar: FakeOscar) -> Iterator[OidcIssuer]:
    """A token endpoint whose access tokens the `fake_oscar` cluster accepts."""
    issuer = OidcIssuer(fake_oscar.oidc_tokens)
    with serving(issuer_handler(issuer)) as base:
        issuer.url = f"{base}/token"
        yield issuer
