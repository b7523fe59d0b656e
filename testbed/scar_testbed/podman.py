"""podman on a machine without Docker: vfs or overlay storage, runc, cgroupfs and file events
(what works as root without systemd), everything under one folder, given registries marked
insecure. `Podman` runs the command line (build, run, push, ...); `start_podman` its
Docker-compatible API service, so code using the `docker` SDK meets a real Engine API."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PODMAN = "podman"
RUNC = Path("/usr/bin/runc")
RUNROOT_LIMIT = 50
INSTALL_HINT = "bash scripts/setup-system.sh (Debian packages podman and runc)"


@dataclass
class PodmanService:
    """A running `podman system service`: its process and DOCKER_HOST value."""

    process: subprocess.Popen[bytes]
    socket_path: Path
    log: Path
    storage: Path

    @property
    def docker_host(self) -> str:
        """`unix:///.../podman.sock`, for DOCKER_HOST."""
        return f"unix://{self.socket_path}"

    def stop(self) -> None:
        """Stop the service's process group, then unmount what overlay storage left mounted
        (its own bind mount, a container's if a build was cut short), deepest first, so
        that the folder can be removed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        inside = f"{self.storage.resolve()}/"
        points = [line.split()[4] for line in
                  Path("/proc/self/mountinfo").read_text().splitlines()]
        for point in sorted((p for p in points if p.startswith(inside)), key=len, reverse=True):
            subprocess.run(["umount", point], capture_output=True, check=False)


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


@dataclass(frozen=True)
class Podman:
    """podman's command line with its storage and configuration in `folder`; `driver` vfs
    (works everywhere) or overlay (native overlayfs as root: layers cost no copies)."""

    folder: Path
    insecure_hosts: tuple[str, ...] = ()
    driver: str = "vfs"

    @classmethod
    def prepare(cls, folder: Path, insecure_hosts: Iterable[str] = (), *,
                driver: str = "vfs") -> Podman:
        """Check podman and runc are there and write the configuration into `folder`."""
        if not shutil.which(PODMAN) or not RUNC.is_file():
            raise RuntimeError(f"podman or runc is not installed: {INSTALL_HINT}")
        podman = cls(folder, tuple(insecure_hosts), driver)
        folder.mkdir(parents=True, exist_ok=True)
        podman.registries_conf.write_text(registries_conf(podman.insecure_hosts))
        return podman

    @property
    def registries_conf(self) -> Path:
        return self.folder / "registries.conf"

    @property
    def run_dir(self) -> Path:
        """podman's runroot: `folder`/run (a storage kept in the cache records it), or where
        that is over the 50 characters podman accepts (a pytest-xdist worker's temporary
        folder), a short one in the temporary folder named after `folder`."""
        run = self.folder / "run"
        if len(str(run)) <= RUNROOT_LIMIT:
            return run
        digest = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"podman-run-{digest}"

    def argv(self, *args: str) -> list[str]:
        """`podman <global options> args...`."""
        return [PODMAN, "--root", str(self.folder / "root"), "--runroot",
                str(self.run_dir), "--storage-driver", self.driver, "--runtime", str(RUNC),
                "--cgroup-manager", "cgroupfs", "--events-backend", "file", *args]

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment podman needs (plus `extra`)."""
        return {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
                "TMPDIR": str(self.folder), "XDG_RUNTIME_DIR": str(self.run_dir),
                **(extra or {})}

    def run(self, *args: str, timeout: float = 900, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `podman args...`; with `check`, a failure raises with its output."""
        done = subprocess.run(self.argv(*args), env=self.env(env), capture_output=True,
                              text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:2])} failed ({done.returncode}):\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done


def start_podman(folder: Path, insecure_hosts: Iterable[str], *,
                 timeout: float = 30) -> PodmanService:
    """Start the service with its storage and configuration in `folder`. Overlay storage: a
    build's steps share their layers, where vfs copies the whole tree at each (about twice
    podman's CPU for a function image)."""
    podman = Podman.prepare(folder, insecure_hosts, driver="overlay")
    sock, log = folder / "podman.sock", folder / "podman.log"
    argv = podman.argv("system", "service", "--time=0", f"unix://{sock}")
    with log.open("wb") as log_file:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, env=podman.env(),
                                   start_new_session=True)
    service = PodmanService(process, sock, log, folder / "root")
    started = time.perf_counter()
    while not _answers(sock):
        if process.poll() is not None or time.perf_counter() - started > timeout:
            service.stop()
            raise RuntimeError(f"podman system service did not start; its log {log}:\n"
                               f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    return service
