"""LocalStack's own venv, managed by scar-ci in its cache folder (stdlib only).

LocalStack 2026.3 needs Python >= 3.12 and pins of its dependencies; scar-ci itself may run on
3.11, so LocalStack lives in a venv of its own, built on first use and keyed by the hash of the
interpreter's version and the pins. The `scar-local` executor (scar_ci/local/executor/) is
installed into it as a small package of its own, reinstalled whenever its sources change.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scar_ci.cache import cache_dir
from scar_ci.local.errors import LocalError

EXECUTOR_NAME = "scar-local"
EXECUTOR_SOURCES = Path(__file__).with_name("executor")
EXECUTOR_PACKAGE = "scar_ci_local_executor"
MIN_PYTHON = (3, 12)
COMPLETE_MARKER = ".complete"
EXECUTOR_STAMP = ".executor"
PYTHON_VARIABLE = "SCAR_CI_LOCALSTACK_PYTHON"

# The executor uses LocalStack internals: change the version only together with it. Without the
# other pins, localstack-core 2026.3.0 fails at import or at start; service_identity is imported
# by LocalStack's twisted server but not required by localstack-core. flask and flask-cors make
# the venv's moto (LocalStack's moto-ext) a server: local mode's ECR API (image_services).
REQUIREMENTS = ("localstack-core[runtime]", "service_identity", "flask", "flask-cors")
CONSTRAINTS = (
    "localstack-core==2026.3.0",
    "cbor2<5.7",
    "cryptography<44",
    "pyopenssl<24.3",
    "service_identity<24.2",
    "joserfc<1.1",
)

_EXECUTOR_PYPROJECT = f"""\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "scar-ci-local-executor"
version = "1"
description = "scar-ci's LocalStack runtime executor: Lambda functions as local processes"

[project.entry-points."localstack.lambda.runtime_executor"]
{EXECUTOR_NAME} = "{EXECUTOR_PACKAGE}.plugin:LocalProcessExecutorPlugin"

[tool.setuptools]
packages = ["{EXECUTOR_PACKAGE}"]
"""


def find_python() -> Path:
    """A Python >= 3.12 for LocalStack: $SCAR_CI_LOCALSTACK_PYTHON, PATH, or pyenv's versions."""
    candidates: list[str] = []
    if explicit := os.environ.get(PYTHON_VARIABLE):
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
    raise LocalError(
        "LocalStack needs Python >= 3.12 and none was found (tried python3.13, python3.12, "
        "python3 on PATH and pyenv's versions). Install one, e.g. `pyenv install 3.13` or "
        "`apt-get install python3.12-venv` where available, or set "
        f"{PYTHON_VARIABLE}=/path/to/python3.12+."
    )


def _python_is_recent(python: str) -> bool:
    check = f"import sys, venv; sys.exit(sys.version_info < {MIN_PYTHON!r})"
    return subprocess.run([python, "-c", check], capture_output=True).returncode == 0


def venv_dir(python: Path) -> Path:
    """The venv's folder, named by the hash of the interpreter's version and the pins."""
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"],
        capture_output=True, text=True, check=True,
    ).stdout
    digest = hashlib.sha256("\0".join([version, *REQUIREMENTS, *CONSTRAINTS]).encode())
    return cache_dir() / f"localstack-{digest.hexdigest()[:16]}"


def executor_digest() -> str:
    """The hash of the executor's sources and of its package description."""
    digest = hashlib.sha256(_EXECUTOR_PYPROJECT.encode())
    for path in sorted(EXECUTOR_SOURCES.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def setup() -> Path:
    """LocalStack's venv with the current executor, built or updated when needed."""
    python = find_python()
    target = venv_dir(python)
    if _is_current(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with Path(f"{target}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE_MARKER).exists():
            _build_venv(python, target)
        if not _is_current(target):
            _install_executor(target)
    return target


def _is_current(target: Path) -> bool:
    stamp = target / EXECUTOR_STAMP
    return (target / COMPLETE_MARKER).exists() and stamp.is_file() and (
        stamp.read_text().strip() == executor_digest()
    )


def _build_venv(python: Path, target: Path) -> None:
    started = time.monotonic()
    progress(f"building LocalStack's venv in {target} (about a minute, only the first time)")
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([str(python), "-m", "venv", str(target)], check=True)
    constraints = target / "constraints.txt"
    constraints.write_text("\n".join(CONSTRAINTS) + "\n")
    _run_logged(
        target,
        "installing localstack-core[runtime] and its pins",
        [*_pip(target), "-c", str(constraints), *REQUIREMENTS],
    )
    (target / COMPLETE_MARKER).write_text(f"{time.monotonic() - started:.0f} s\n")
    progress(f"LocalStack's venv is ready ({time.monotonic() - started:.0f} s)")


def _install_executor(target: Path) -> None:
    """Install scar_ci/local/executor/ as the package scar_ci_local_executor, and check it."""
    with tempfile.TemporaryDirectory(prefix="scar-ci-executor-") as folder:
        shutil.copytree(EXECUTOR_SOURCES, Path(folder, EXECUTOR_PACKAGE),
                        ignore=shutil.ignore_patterns("__pycache__"))
        Path(folder, "pyproject.toml").write_text(_EXECUTOR_PYPROJECT)
        _run_logged(target, "installing the scar-local executor",
                    [*_pip(target), "--no-deps", "--force-reinstall", folder])
    check = (
        f"import importlib.metadata as m, {EXECUTOR_PACKAGE}.plugin; "
        f"assert {EXECUTOR_NAME!r} in "
        "[e.name for e in m.entry_points(group='localstack.lambda.runtime_executor')]"
    )
    python = str(target / "bin" / "python")
    _run_logged(target, "checking the executor loads", [python, "-c", check])
    (target / EXECUTOR_STAMP).write_text(executor_digest() + "\n")


def _pip(target: Path) -> list[str]:
    return [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]


def _run_logged(target: Path, what: str, cmd: list[str]) -> None:
    progress(what)
    log = target / "setup.log"
    with log.open("a") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=target)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise LocalError(f"{what} failed:\n{tail}\nThe whole log is in {log}.")


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only results)."""
    print(f"scar-ci local: {message}", file=sys.stderr, flush=True)
