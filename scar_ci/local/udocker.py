"""Image functions in local mode: udocker with the machine's proot, no engine download, mode P1
(zip functions' supervisors run udocker in F1 with their layer's engines, as on Lambda)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from scar_ci.local.errors import LocalError

EXECMODE = "P1"
WRAPPER_NAME = "proot-no-kernel-release"
UDOCKER_PIN = "udocker==1.3.17"

# Debian's proot 5.1.0 fails on some kernels when given `-k <release>`, which udocker always
# passes; the wrapper drops that option (and its value) and runs the real proot.
_WRAPPER = """#!/bin/sh
# Written by scar-ci (scar_ci.local.udocker): runs {proot} without udocker's `-k RELEASE`.
for arg do
    shift
    if [ -n "$skip" ]; then skip=; continue; fi
    if [ "$arg" = "-k" ]; then skip=1; continue; fi
    set -- "$@" "$arg"
done
exec {proot} "$@"
"""


def find_proot() -> Path:
    """The machine's proot, or an error saying how to install it."""
    found = shutil.which("proot")
    if not found:
        raise LocalError(
            "proot is missing: local mode runs containers with udocker through proot. Install "
            "it with `apt-get install proot` (Debian, Ubuntu) or your system's proot package."
        )
    return Path(found)


def write_proot_wrapper(folder: Path) -> Path:
    """Write the proot wrapper into `folder` (created if needed) and return its path."""
    proot = find_proot()
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / WRAPPER_NAME
    wrapper.write_text(_WRAPPER.format(proot=shlex.quote(str(proot))))
    wrapper.chmod(0o755)
    return wrapper


def check_function_python(python: str) -> None:
    """The Python that runs functions must have boto3 (like Lambda's) and udocker."""
    wanted = {"boto3": "boto3", "udocker": UDOCKER_PIN}
    probe = f"import importlib.util as u; print(*[m for m in {[*wanted]!r} if not u.find_spec(m)])"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    except OSError as error:
        raise LocalError(
            f"the Python that runs functions in local mode, {python}, cannot run "
            f"({error.strerror}): set SCAR_CI_FUNCTION_PYTHON to a Python with boto3 and udocker."
        ) from None
    missing = done.stdout.split() if done.returncode == 0 else list(wanted)
    if missing:
        names = " and ".join(missing) + (" is" if len(missing) == 1 else " are")
        raise LocalError(
            f"{names} missing from {python}, the Python that runs functions in local mode: "
            f"install with `{python} -m pip install {' '.join(wanted[m] for m in missing)}`."
        )


def function_defaults(tools_dir: Path) -> dict[str, str]:
    """udocker's settings for image functions, which local mode runs under udocker in P1
    through proot (zip functions get none of these: their supervisor runs udocker in F1, as
    on Lambda, with the engines of its layer; they get only the Docker Hub mirror)."""
    return {"UDOCKER_USE_PROOT_EXECUTABLE": str(write_proot_wrapper(tools_dir))}
