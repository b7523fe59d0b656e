"""Debian's docker-registry on a free 127.0.0.1 port, storage in a given folder, optional
login: Basic (htpasswd with bcrypt, as the registry requires) or Bearer tokens."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scar_ci.local.ports import free_port
from scar_testbed.service_process import ServiceProcess, start_service
from scar_testbed.token_auth import ISSUER, SERVICE, TokenService, start_token_service

REGISTRY = "docker-registry"
HTPASSWD = "htpasswd"
INSTALL_HINT = "bash scripts/setup-system.sh (Debian packages docker-registry, apache2-utils)"


@dataclass(frozen=True)
class Credentials:
    """A registry login, e.g. ECR's `AWS` and a token."""

    username: str
    password: str


@dataclass
class Registry:
    """A running registry: base URL (`http://127.0.0.1:PORT`), host:port, credentials, and
    its token service when it uses Bearer tokens."""

    service: ServiceProcess
    credentials: Credentials | None
    token_service: TokenService | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return self.service.url

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, the registry part of an image reference."""
        return self.service.url.removeprefix("http://")

    def stop(self) -> None:
        """Stop the registry process (and its token service)."""
        self.service.stop()
        if self.token_service:
            self.token_service.stop()


def _require(binary: str) -> str:
    found = shutil.which(binary)
    if not found:
        raise RuntimeError(f"{binary} is not installed: {INSTALL_HINT}")
    return found


def write_htpasswd(path: Path, credentials: Credentials) -> None:
    """Write a bcrypt htpasswd file (`htpasswd -B`); the password goes through stdin."""
    subprocess.run(  # the password never appears on a command line
        [_require(HTPASSWD), "-B", "-i", "-c", str(path), credentials.username],
        input=credentials.password.encode(), check=True, capture_output=True,
    )


def start_registry(
    folder: Path, credentials: Credentials | None = None, *, bearer: bool = False
) -> Registry:
    """Start a registry storing into `folder`; with `credentials`, a login is required:
    Basic (htpasswd), or with `bearer` a Bearer token from a token service checking it."""
    binary = _require(REGISTRY)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(folder / "storage")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    token_service = None
    if credentials and bearer:
        token_service = start_token_service(folder, credentials.username, credentials.password)
        config["auth"] = {"token": {"realm": token_service.realm, "service": SERVICE,
                                    "issuer": ISSUER,
                                    "rootcertbundle": str(token_service.certificate)}}
    elif credentials:
        htpasswd = folder / "htpasswd"
        write_htpasswd(htpasswd, credentials)
        config["auth"] = {"htpasswd": {"realm": "scar-testbed", "path": str(htpasswd)}}
    config_path = folder / "config.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    try:
        service = start_service("docker-registry", [binary, "serve", str(config_path)],
                                f"http://127.0.0.1:{port}", folder / "registry.log",
                                ready_path="/v2/")
    except BaseException:
        if token_service:
            token_service.stop()
        raise
    return Registry(service, credentials, token_service)
