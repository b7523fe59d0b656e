"""podman's Docker-compatible API service, so code using the `docker` SDK meets a real Engine
API on a machine without Docker: vfs storage, runc, cgroupfs and file events (what works as
root without systemd), everything under one folder, given registries marked insecure."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PODMAN = "podman"
RUNC = Path("/usr/bin/runc")
INSTALL_HINT = "bash scripts/setup-system.sh (Debian packages podman and runc)"


@dataclass
class PodmanService:
    """A running `podman system service`: its process and DOCKER_HOST value."""

    process: subprocess.Popen[bytes]
    socket_path: Path
    log: Path

    @property
    def docker_host(self) -> str:
        """`unix:///.../podman.sock`, for DOCKER_HOST."""
        return f"unix://{self.socket_path}"

    def stop(self) -> None:
        """Stop the service's process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def registries_conf(insecure_hosts: Iterable[str]) -> str:
    """A registries.conf: no short-name search, the given host:port registries over HTTP."""
    lines = ["unqualified-search-registries = []"]
    for host in insecure_hosts:
        lines += ["", "[[registry]]", f'location = "{host}"', "insecure = true"]
    return "\n".join(lines) + "\n"


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(2)
            probe.connect(str(path))
            probe.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return probe.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def start_podman(folder: Path, insecure_hosts: Iterable[str], *,
                 timeout: float = 30) -> PodmanService:
    """Start the service with its storage and configuration in `folder`."""
    binary = shutil.which(PODMAN)
    if not binary or not RUNC.is_file():
        raise RuntimeError(f"podman or runc is not installed: {INSTALL_HINT}")
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "registries.conf"
    conf.write_text(registries_conf(insecure_hosts))
    sock, log = folder / "podman.sock", folder / "podman.log"
    argv = [binary, "--root", str(folder / "root"), "--runroot", str(folder / "run"),
            "--storage-driver", "vfs", "--runtime", str(RUNC), "--cgroup-manager", "cgroupfs",
            "--events-backend", "file", "system", "service", "--time=0", f"unix://{sock}"]
    env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf),
           "TMPDIR": str(folder), "XDG_RUNTIME_DIR": str(folder / "run")}
    with log.open("wb") as log_file:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    service = PodmanService(process, sock, log)
    started = time.perf_counter()
    while not _answers(sock):
        if process.poll() is not None or time.perf_counter() - started > timeout:
            service.stop()
            raise RuntimeError(f"podman system service did not start; its log {log}:\n"
                               f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    return service
