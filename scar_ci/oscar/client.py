"""One OSCAR cluster through oscar-python, the OSCAR project's client: services, runs, logs,
storage. Every HTTP failure becomes one `OscarFailure` naming the cluster and what to do.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import InsecureRequestWarning

from scar_ci.errors import UserError
from scar_ci.oscar.access import ClusterAccess

T = TypeVar("T")
RUN_TIMEOUT_S = 300  # a synchronous run waits for the script (oscar-python's default is 60 s)


_QUIET = threading.Lock()  # oscar-python prints; its output is kept out of ours

class OscarFailure(UserError):
    """An OSCAR cluster refused a call or could not be reached."""


@dataclass(frozen=True)
class RunResult:
    """A synchronous run's answer: the body OSCAR returned (the output, base64 or text)."""

    status: int
    body: bytes


class OscarCluster:
    """The calls scar-ci makes to one cluster."""

    def __init__(self, access: ClusterAccess) -> None:
        # oscar-python (with aiohttp: a quarter of a second) only when a cluster is contacted,
        # not for every deploy of an FDL without OSCAR services
        from oscar_python import client

        self.access = access
        self._client = client.Client(access.client_options())
        self._default_token_endpoint = client._DEFAULT_TOKEN_ENDPOINT

    @property
    def cluster_id(self) -> str:
        return self.access.cluster_id

    @property
    def endpoint(self) -> str:
        return self.access.endpoint.rstrip("/")

    @property
    def token_endpoint(self) -> str:
        """Where oscar-python refreshes the access token (EGI Check-in's unless given)."""
        return str(self.access.oidc.get("token_endpoint") or self._default_token_endpoint)

    def _call(self, action: Callable[[], T], what: str) -> T:
        try:
            # both swap process-wide state: one call at a time (deploys apply side by side)
            with _QUIET, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                if not self.access.ssl_verify:  # asked for: no warning on every request
                    warnings.simplefilter("ignore", InsecureRequestWarning)
                return action()  # oscar-python prints its progress: kept out of our output
        except requests.HTTPError as error:
            raise self._refused(error, what) from None
        except requests.RequestException as error:
            request = getattr(error, "request", None)
            if self.access.refresh_token and request is not None and str(
                    request.url or "").startswith(self.token_endpoint):
                raise OscarFailure(
                    f"OSCAR cluster {self.cluster_id!r}: cannot reach the token endpoint "
                    f"{self.token_endpoint} to refresh the access token: "
                    f"{type(error).__name__}; check token_endpoint "
                    f"({self.access.origin or 'its settings'})") from None
            raise OscarFailure(
                f"cannot reach OSCAR cluster {self.cluster_id!r} at {self.endpoint} to "
                f"{what}: {type(error).__name__}; check the endpoint "
                f"({self.access.origin or 'its settings'}) and the network") from None
        except (BotoCoreError, ClientError) as error:  # the service's storage, through boto3
            raise OscarFailure(f"OSCAR cluster {self.cluster_id!r}: its storage refused to "
                               f"{what}: {error}") from None
        except ValueError as error:  # oscar-python's own checks (service exists / missing)
            raise OscarFailure(f"OSCAR cluster {self.cluster_id!r}: cannot {what}: "
                               f"{error}") from None

    def _refused(self, error: requests.HTTPError, what: str) -> OscarFailure:
        response = error.response
        status = response.status_code if response is not None else 0
        if status == 401 and self.access.refresh_token and not self._client.oidc_token:
            return OscarFailure(
                f"OSCAR cluster {self.cluster_id!r}: the token endpoint {self.token_endpoint} "
                f"refused the refresh token (client_id {self._client.client_id}), so no "
                f"access token to {what}: check refresh_token, client_id and token_endpoint "
                f"({self.access.origin or 'its settings'})")
        if status == 401:
            how = ("auth_user / auth_password" if self.access.auth_user
                   else "the OIDC access token" if not self.access.refresh_token
                   else "the OIDC tokens (the refreshed access token was refused)")
            return OscarFailure(
                f"OSCAR cluster {self.cluster_id!r} at {self.endpoint} refused the "
                f"credentials (401) to {what}: check {how} "
                f"({self.access.origin or 'its settings'})")
        text = _short(response.text if response is not None else "")
        return OscarFailure(f"OSCAR cluster {self.cluster_id!r} refused to {what}: HTTP "
                            f"{status}{': ' + text if text else ''}")

    # -- services ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """`/system/info`: version and back-end (checks the credentials)."""
        return self._call(lambda: self._client.get_cluster_info().json(),
                          "read its info")

    def list_services(self) -> list[dict[str, Any]]:
        return self._call(lambda: self._client.list_services().json() or [],
                          "list its services")

    def get_service(self, name: str) -> dict[str, Any] | None:
        """The service's definition as OSCAR stores it, or None when there is none."""
        def get() -> dict[str, Any] | None:
            try:
                return self._client.get_service(name).json()
            except requests.HTTPError as error:
                if error.response is not None and error.response.status_code == 404:
                    return None
                raise
        return self._call(get, f"read service {name}")

    def create_service(self, definition: dict[str, Any]) -> None:
        name = definition["name"]
        self._call(lambda: self._client.create_service(definition), f"create service {name}")

    def update_service(self, definition: dict[str, Any]) -> None:
        name = definition["name"]
        self._call(lambda: self._client.update_service(name, definition),
                   f"update service {name}")

    def remove_service(self, name: str) -> None:
        """Delete the service (no error when it is already gone)."""
        def remove() -> None:
            try:
                self._client.remove_service(name)
            except requests.HTTPError as error:
                if error.response is None or error.response.status_code != 404:
                    raise
        self._call(remove, f"delete service {name}")

    # -- runs and logs ----------------------------------------------------------------------

    def run(self, name: str, payload: bytes, *, asynchronous: bool = False,
            timeout: float = RUN_TIMEOUT_S) -> RunResult:
        """Send `payload` (a file's bytes; oscar-python base64-encodes it) to `/run/<name>`, or
        `/job/<name>` asynchronously, with the service's token (read from the service)."""
        def post() -> RunResult:
            with tempfile.TemporaryDirectory(prefix="scar-ci-oscar-") as folder:
                request = Path(folder) / "input"
                request.write_bytes(payload)
                response = self._client.run_service(name, input=str(request) if payload
                                                    else None, async_call=asynchronous,
                                                    timeout=timeout)
            return RunResult(response.status_code, response.content)
        return self._call(post, f"run service {name}")

    def jobs(self, name: str) -> dict[str, dict[str, Any]]:
        """The service's jobs by name, with status and times."""
        return self._call(lambda: self._client.list_jobs(name).json().get("jobs") or {},
                          f"list the jobs of service {name}")

    def job_logs(self, name: str, job: str) -> str:
        return self._call(lambda: self._client.get_job_logs(name, job).text,
                          f"read the logs of job {job}")

    # -- storage ----------------------------------------------------------------------------

    def upload(self, service: str, provider: str, local: Path, folder: str) -> None:
        """Put `local` into `folder` (`bucket/path`) of the service's `provider`."""
        def put() -> None:
            storage = self._client.create_storage_client(service)
            storage.upload_file(_provider(provider), str(local), folder.strip("/"))
        self._call(put, f"upload {local.name} to {provider} {folder}")

    def download(self, service: str, provider: str, key: str, into: Path) -> Path:
        """Get `key` (`bucket/path/file`) from the service's `provider` into folder `into`."""
        def get() -> Path:
            storage = self._client.create_storage_client(service)
            storage.download_file(_provider(provider), str(into), key.strip("/"))
            return into / key.rsplit("/", 1)[-1]
        return self._call(get, f"download {key}")

    def list_files(self, service: str, provider: str, path: str) -> list[str]:
        """The keys (`bucket/key`) under `path` (`bucket/folder`) of the service's `provider`."""
        bucket = path.strip("/").partition("/")[0]

        def listed() -> list[str]:
            storage = self._client.create_storage_client(service)
            answer = storage.list_files_from_path(_provider(provider), path.strip("/"))
            return [f"{bucket}/{o['Key']}" for o in answer.get("Contents", ())]
        return self._call(listed, f"list {path}")


def _provider(provider: str) -> str:
    """oscar-python names the cluster's own MinIO `minio.default`; FDL writes `minio`."""
    return provider if "." in provider else f"{provider}.default"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[:limit - 1]}…"
