"""udocker on a machine without a daemon: Debian's proot, no engine download, execmode P1.

`udocker_environment()` gives the variables any process that runs udocker needs (tests, the
supervisor under test); `udocker_command()` the argv prefix. The proot wrapper is local mode's
(scar_ci.local.udocker).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from scar_ci.local.udocker import EXECMODE, write_proot_wrapper


def udocker_environment(udocker_dir: Path, tools_dir: Path) -> dict[str, str]:
    """Variables for a udocker with its repository in `udocker_dir`, wrapper in `tools_dir`.

    Only the udocker-specific variables: merge them into the child's environment.
    """
    wrapper = write_proot_wrapper(tools_dir)
    tmp = udocker_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "UDOCKER_DIR": str(udocker_dir),
        "UDOCKER_TARBALL": "",
        "UDOCKER_USE_PROOT_EXECUTABLE": str(wrapper),
        "UDOCKER_DEFAULT_EXECUTION_MODE": EXECMODE,
        "UDOCKER_TMP": str(tmp),
        "PROOT_TMP_DIR": str(tmp),
    }


def udocker_executable() -> str:
    """The udocker script of the running Python's environment (or on PATH)."""
    beside = Path(sys.executable).with_name("udocker")
    found = str(beside) if beside.is_file() else shutil.which("udocker")
    if not found:
        raise RuntimeError("udocker is missing: install it with pip install udocker==1.3.17 "
                           "(a dependency of scar-ci: bash scripts/setup-venv.sh)")
    return found


def udocker_command() -> list[str]:
    """The argv prefix to run udocker: root needs `--allow-root`; `--quiet` keeps output clean."""
    command = [udocker_executable(), "--quiet"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


@dataclass(frozen=True)
class UdockerResult:
    """One finished udocker command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class Udocker:
    """Runs udocker commands with the test bed's environment and times each one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = {**os.environ, **env}

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> UdockerResult:
        """Run `udocker ARGS`; with `check`, a non-zero exit raises with udocker's stderr."""
        start = time.perf_counter()
        done = subprocess.run(
            [*udocker_command(), *args], env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        result = UdockerResult(tuple(args), done.returncode, done.stdout, done.stderr,
                               time.perf_counter() - start)
        if check and done.returncode != 0:
            raise RuntimeError(f"udocker {' '.join(args)} exited {done.returncode}: "
                               f"{done.stderr.strip() or done.stdout.strip()}")
        return result

    def load(self, archive: Path, repository: str | None = None) -> UdockerResult:
        """`udocker load -i ARCHIVE [REPOSITORY]` (a docker-save or OCI archive)."""
        return self("load", "-i", str(archive), *([repository] if repository else []))

    def pull(self, reference: str, registry_url: str) -> UdockerResult:
        """`udocker pull --registry=URL REFERENCE`."""
        return self("pull", f"--registry={registry_url}", reference)

    def create(self, image: str, name: str) -> UdockerResult:
        """Create container `name` from `image` and set it to execmode P1 (the result's
        `seconds` count both steps)."""
        created = self("create", f"--name={name}", image)
        setup = self("setup", f"--execmode={EXECMODE}", name)
        return replace(created, seconds=created.seconds + setup.seconds)

    def run(
        self,
        name: str,
        *args: str,
        volumes: Sequence[Path] = (),
        env: Mapping[str, str] | None = None,
        entrypoint: str | None = None,
        timeout: float = 120,
    ) -> UdockerResult:
        """Run container `name` as SCAR does: host folders bound at the same paths, no
        system dirs but /dev and /proc; a non-zero exit is returned, not raised."""
        options = ["--nosysdirs", "-v", "/dev", "-v", "/proc"]
        options += [f"--volume={volume}" for volume in volumes]
        options += [f"--env={key}={value}" for key, value in (env or {}).items()]
        if entrypoint is not None:
            options.append(f"--entrypoint={entrypoint}")
        return self("run", *options, name, *args, check=False, timeout=timeout)
