"""A token service for docker-registry's `auth: token` mode (the Bearer flow of Docker Hub,
GHCR and most registries): checks a Basic login, answers with an RS256 JWT whose `x5c`
certificate is the one the registry trusts (its `rootcertbundle`)."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from scar_testbed.http_stub import send_json

ISSUER = "scar-testbed-token-issuer"
SERVICE = "scar-testbed-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenService:
    """A running token service: its URL (`realm`), certificate file, and a stop()."""

    server: ThreadingHTTPServer
    realm: str
    certificate: Path

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def _access(scopes: list[str]) -> list[dict[str, object]]:
    """`repository:a/b:pull,push` -> {"type", "name", "actions"} claims."""
    access = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    return access


def start_token_service(folder: Path, username: str, password: str) -> TokenService:
    """Serve tokens on a free 127.0.0.1 port to `username`/`password` for any scope."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = _self_signed(key)
    cert_file = folder / "token-cert.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    header = _b64url(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [
        base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]}).encode())
    expected = f"{username}:{password}".encode()

    def issue(subject: str, service: str, scopes: list[str]) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "aud": service, "iat": now, "nbf": now - 10,
                  "exp": now + 300, "jti": secrets.token_hex(8), "access": _access(scopes)}
        signed = f"{header}.{_b64url(json.dumps(claims).encode())}"
        signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64url(signature)}"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
            try:
                given = base64.b64decode(value, validate=True)
            except binascii.Error:
                given = b""
            if scheme != "Basic" or not secrets.compare_digest(given, expected):
                self._answer(401, {"details": "wrong or missing login"})
                return
            token = issue(username, query.get("service", [SERVICE])[0], query.get("scope", []))
            self._answer(200, {"token": token, "access_token": token, "expires_in": 300})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            send_json(self, status, body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read answers, not access logs."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="token-service", daemon=True).start()
    return TokenService(server, f"http://127.0.0.1:{server.server_address[1]}/token", cert_file)
