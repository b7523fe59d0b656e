"""Outputs to a Onedata space, through its Oneprovider's CDMI interface as SCAR's supervisor
does: `PUT https://<oneprovider_host>/cdmi/<space>/<path>/<file>` with `X-Auth-Token`.

A Lambda function's input comes from S3 events, so Onedata is an output only here.
"""

from __future__ import annotations

import http.client
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from scar_ci.supervisor.errors import ConfigError, StorageFailed

ACCEPTED = (201, 202, 204)
TIMEOUT_SECONDS = 60


class OnedataClient:
    """The subset of an S3 client's interface the supervisor uses for outputs (https verifies
    the Oneprovider's certificate: the token is a secret)."""

    def __init__(self, provider: str, settings: dict[str, Any]) -> None:
        host, token, space = (str(settings.get(k) or "") for k in
                              ("oneprovider_host", "token", "space"))
        if not (host and token and space):
            raise ConfigError(f"storage provider {provider!r} needs oneprovider_host, token "
                              "and space under storage_providers.onedata in the FDL")
        self.provider, self.token, self.space = provider, token, space
        self.scheme, self.netloc = _endpoint(provider, host)

    def upload_file(self, filename: str, bucket: str, key: str) -> None:
        """Store the file at `<space>/<bucket>/<key>`; anything but 201/202/204 fails."""
        path = "/cdmi/" + quote(f"{self.space}/{bucket}/{key}", safe="/")
        size = Path(filename).stat().st_size
        connection_class = (http.client.HTTPSConnection if self.scheme == "https"
                            else http.client.HTTPConnection)
        connection = connection_class(self.netloc, timeout=TIMEOUT_SECONDS)
        try:
            with Path(filename).open("rb") as body:
                connection.request("PUT", path, body=body, headers={
                    "X-Auth-Token": self.token, "Content-Type": "application/octet-stream",
                    "Content-Length": str(size)})
                response = connection.getresponse()
                answer = response.read(300).decode(errors="replace").strip()
        except OSError as exc:
            raise StorageFailed(f"cannot reach the Oneprovider {self.netloc} of "
                                f"{self.provider!r}: {exc}") from None
        finally:
            connection.close()
        if response.status not in ACCEPTED:
            raise StorageFailed(
                f"the Oneprovider {self.netloc} refused {self.space}/{bucket}/{key} of "
                f"{self.provider!r}: HTTP {response.status} {answer}; check the token, the "
                "space name and that the folder exists")

    def download_file(self, bucket: str, key: str, filename: str) -> None:
        """Not possible: no Onedata event reaches a Lambda function."""
        raise ConfigError(f"storage provider {self.provider!r} cannot be an input of a Lambda "
                          "function (its events come from S3): use s3 for the input")


def _endpoint(provider: str, host: str) -> tuple[str, str]:
    """(scheme, host[:port]): https, or http only for a loopback host said explicitly."""
    parts = urlsplit(host if "://" in host else f"https://{host}")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path.strip("/"):
        raise ConfigError(f"storage provider {provider!r}: oneprovider_host {host!r} is not a "
                          "host name (e.g. 'oneprovider.example.org' or 'host:8443')")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(f"storage provider {provider!r}: plain http would send the token in "
                          "clear; use https (the default when no scheme is given)")
    return parts.scheme, parts.netloc


def _loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
