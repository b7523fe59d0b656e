"""A local HTTP service run for the tests: start, wait until it answers, stop (free ports:
scar_ci.local.ports)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def answers(url: str) -> bool:
    """Whether an HTTP server answers `url` at all (any status, 401 included)."""
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - a local http URL
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class ServiceProcess:
    """A started service: its process (own process group), base URL and log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    started_in: float

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after 5 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the service's log, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_service(
    name: str,
    argv: Sequence[str],
    url: str,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/",
    timeout: float = 30,
) -> ServiceProcess:
    """Start `argv`, wait until `url + ready_path` answers; fail with the log if it does not."""
    started = time.perf_counter()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
    service = ServiceProcess(name, process, url, log, 0.0)
    while not answers(url + ready_path):
        if process.poll() is not None or time.perf_counter() - started > timeout:
            service.stop()
            raise RuntimeError(f"{name} did not start ({' '.join(argv)}); its log {log} "
                               f"ends with:\n{service.log_tail()}")
        time.sleep(0.02)
    service.started_in = time.perf_counter() - started
    return service
