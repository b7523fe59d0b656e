"""LocalStack on the host, without Docker: its own venv, start on a free port, stop by PID.

Stdlib only, so that any python3 >= 3.11 runs it as a script:

    python3 testbed/scar_testbed/localstack_ctl.py setup|start|stop|status

`setup` builds LocalStack's venv (Python >= 3.12, pins from testbed/constraints-localstack.txt,
plus this test bed's Lambda executor plugin) in a cache folder keyed by the hash of what it
installs; `start` runs LocalStack on 127.0.0.1 on a free port with Lambda functions executed as
local processes (LAMBDA_RUNTIME_EXECUTOR=scar-local) and prints its endpoint URL.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TESTBED_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = TESTBED_DIR.parent
CONSTRAINTS = TESTBED_DIR / "constraints-localstack.txt"
# service_identity: twisted (LocalStack's server) imports it, localstack-core does not require it.
LOCALSTACK_REQUIREMENTS = ["localstack-core[runtime]", "service_identity"]
EXECUTOR_NAME = "scar-local"
MIN_PYTHON = (3, 12)
START_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0
COMPLETE_MARKER = ".complete"


class TestbedError(Exception):
    """A problem the developer can fix; printed as one message, no traceback."""


@dataclass(frozen=True)
class Instance:
    """A running LocalStack."""

    pid: int
    port: int

    @property
    def url(self) -> str:
        """The endpoint for AWS_ENDPOINT_URL."""
        return f"http://127.0.0.1:{self.port}"


def cache_dir() -> Path:
    """Where venvs and state live: $SCAR_CI_CACHE, or ~/.cache/scar-ci."""
    return Path(os.environ.get("SCAR_CI_CACHE") or Path.home() / ".cache" / "scar-ci")


def default_state_dir() -> Path:
    """The state folder (pid, port, log) of this work tree's LocalStack."""
    tree = hashlib.sha256(str(REPO_DIR).encode()).hexdigest()[:10]
    return cache_dir() / "run" / f"localstack-{tree}"


def find_python() -> Path:
    """A Python >= 3.12 for LocalStack: $SCAR_TESTBED_LOCALSTACK_PYTHON, PATH, or pyenv."""
    candidates: list[str] = []
    if explicit := os.environ.get("SCAR_TESTBED_LOCALSTACK_PYTHON"):
        candidates.append(explicit)
    candidates += ["python3.13", "python3.12", "python3"]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
        versions = sorted(Path(root, "versions").glob("3.1[2-9]*/bin/python3"), reverse=True)
        candidates += [str(p) for p in versions]
    for candidate in candidates:
        if (path := shutil.which(candidate)) and _python_is_recent(path):
            return Path(path)
    raise TestbedError(
        "LocalStack needs Python >= 3.12 and none was found (tried python3.13, python3.12, "
        "python3 on PATH and pyenv's versions). Install one, e.g. `pyenv install 3.13` or "
        "`apt-get install python3.12-venv` where available, or set "
        "SCAR_TESTBED_LOCALSTACK_PYTHON=/path/to/python3.12+."
    )


def _python_is_recent(python: str) -> bool:
    check = f"import sys, venv; sys.exit(sys.version_info < {MIN_PYTHON!r})"
    return subprocess.run([python, "-c", check], capture_output=True).returncode == 0


def _install_inputs() -> list[Path]:
    """The files whose content decides what the venv contains."""
    sources = sorted((TESTBED_DIR / "scar_testbed" / "executor").glob("*.py"))
    return [CONSTRAINTS, TESTBED_DIR / "pyproject.toml", *sources]


def venv_dir(python: Path) -> Path:
    """The venv's folder, named by the hash of the interpreter's version and of what it installs."""
    digest = hashlib.sha256(_python_version(python).encode())
    for path in _install_inputs():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return cache_dir() / f"localstack-{digest.hexdigest()[:16]}"


def _python_version(python: Path) -> str:
    cmd = [str(python), "-c", "import sys; print(sys.version)"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def setup() -> Path:
    """Build LocalStack's venv unless a complete one exists; returns its folder."""
    python = find_python()
    target = venv_dir(python)
    if (target / COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with Path(f"{target}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE_MARKER).exists():
            _build_venv(python, target)
    return target


def _build_venv(python: Path, target: Path) -> None:
    started = time.monotonic()
    _progress(f"building LocalStack's venv in {target} (a few minutes the first time)")
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([str(python), "-m", "venv", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run_logged(
        target,
        "installing localstack-core[runtime]",
        [*pip, "-c", str(CONSTRAINTS), *LOCALSTACK_REQUIREMENTS],
    )
    _run_logged(
        target, "installing the scar-local executor plugin", [*pip, "--no-deps", str(TESTBED_DIR)]
    )
    check = (
        "import importlib.metadata as m, scar_testbed.executor.plugin; "
        f"assert {EXECUTOR_NAME!r} in "
        "[e.name for e in m.entry_points(group='localstack.lambda.runtime_executor')]"
    )
    _run_logged(target, "checking the plugin loads", [str(target / "bin" / "python"), "-c", check])
    (target / COMPLETE_MARKER).write_text(f"{time.monotonic() - started:.0f} s\n")
    _progress(f"LocalStack's venv is ready ({time.monotonic() - started:.0f} s)")


def _run_logged(target: Path, what: str, cmd: list[str]) -> None:
    _progress(what)
    log = target / "setup.log"
    with log.open("a") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=TESTBED_DIR)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise TestbedError(f"{what} failed:\n{tail}\nThe whole log is in {log}.")


def _progress(message: str) -> None:
    print(f"localstack: {message}", file=sys.stderr, flush=True)


def running(state_dir: Path) -> Instance | None:
    """The LocalStack recorded in state_dir if its process is still alive."""
    try:
        pid = int((state_dir / "pid").read_text())
        port = int((state_dir / "port").read_text())
    except (OSError, ValueError):
        return None
    return Instance(pid, port) if _group_alive(pid) else None


def start(state_dir: Path) -> Instance:
    """Start LocalStack (or find it already running) and wait until it is healthy."""
    if (instance := running(state_dir)) and healthy(instance.url):
        return instance
    stop(state_dir)
    venv = setup()
    state_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = state_dir / "localstack.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "python"), "-m", "localstack.runtime.main"],
            env=_localstack_env(state_dir, port),
            cwd=state_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (state_dir / "pid").write_text(f"{process.pid}\n")
    (state_dir / "port").write_text(f"{port}\n")
    instance = Instance(process.pid, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not healthy(instance.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(state_dir)
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise TestbedError(f"LocalStack did not become healthy:\n{tail}\nWhole log: {log}")
        time.sleep(0.2)
    return instance


def _localstack_env(state_dir: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV", "LOCALSTACK_"))
    }
    function_python = os.environ.get(
        "SCAR_TESTBED_FUNCTION_PYTHON", str(REPO_DIR / ".venv" / "bin" / "python")
    )
    if not Path(function_python).is_file():
        raise TestbedError(
            f"the Python for Lambda functions ({function_python}) does not exist: run "
            "`make setup`, or set SCAR_TESTBED_FUNCTION_PYTHON to a Python that has boto3."
        )
    env.update(
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        LOCALSTACK_HOST=f"127.0.0.1:{port}",
        LOCALSTACK_VOLUME_DIR=str(state_dir / "volume"),
        SKIP_SSL_CERT_DOWNLOAD="1",
        DISABLE_EVENTS="1",
        DNS_ADDRESS="0",
        LAMBDA_RUNTIME_EXECUTOR=EXECUTOR_NAME,
        SCAR_TESTBED_FUNCTION_PYTHON=function_python,
    )
    return env


def healthy(url: str) -> bool:
    """Whether LocalStack at url answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:  # noqa: S310
            return response.status == 200 and "services" in json.load(response)
    except (OSError, ValueError):
        return False


def stop(state_dir: Path) -> bool:
    """Stop the LocalStack of state_dir and everything it started; False if none was running."""
    instance = running(state_dir)
    if instance:
        _kill_group(instance.pid)
    for name in ("pid", "port"):
        (state_dir / name).unlink(missing_ok=True)
    return instance is not None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while _group_alive(pid):
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)  # reap our own child, if it is ours, so it is not a zombie
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pgid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """The command line: setup, start, stop, status."""
    parser = argparse.ArgumentParser(prog="localstack_ctl", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["setup", "start", "stop", "status"])
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="pid, port and log (default: in the cache)"
    )
    args = parser.parse_args(argv)
    state_dir = args.state_dir or default_state_dir()
    try:
        if args.command == "setup":
            setup()
        elif args.command == "start":
            started = time.monotonic()
            instance = start(state_dir)
            _progress(f"healthy after {time.monotonic() - started:.1f} s; log in {state_dir}")
            print(instance.url)
        elif args.command == "stop":
            if not stop(state_dir):
                _progress("was not running")
        else:
            instance = running(state_dir)
            if not instance or not healthy(instance.url):
                print("not running")
                return 3
            print(f"running at {instance.url} (pid {instance.pid}, state in {state_dir})")
    except TestbedError as error:
        print(f"localstack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
