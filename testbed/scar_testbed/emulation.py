"""The other architecture on this machine: Debian's busybox-static for it (fetched with the
machine's apt-get into a private state folder, as scar-ci fetches a function image's runtime)
and qemu-user-static to run its programs.

udocker runs a container of another architecture through `proot -q qemu-<machine>` when it
finds `qemu-<machine>` on PATH; Debian installs it as `qemu-<machine>-static`, so a link with
udocker's name goes into the tools folder. proot then looks the bare name up in the
container's PATH, where it is not: a second proot wrapper gives it the emulator's full path.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from scar_ci.cache import exclusive
from scar_ci.package.image.debian_archive import DebianArchive, extract

QEMU_MACHINES = {"arm64": "aarch64", "amd64": "x86_64"}  # Debian architecture -> qemu's
QEMU_HINT = "install Debian's qemu-user-static: bash scripts/setup-system.sh"
EMULATING_WRAPPER = "proot-emulating"
_WRAPPER = """#!/bin/sh
# Written by the test bed (scar_testbed.emulation): proot -q with the emulator's full path.
for arg do
    shift
    if [ -n "$emulator" ]; then emulator=; arg={qemu}; fi
    if [ "$arg" = "-q" ]; then emulator=1; fi
    set -- "$@" "$arg"
done
exec {proot} "$@"
"""


def foreign_busybox(architecture: str, cache: Path) -> Path:
    """busybox-static's /bin/busybox for the Debian `architecture`, kept under `cache`."""
    folder = cache / f"busybox-{architecture}"
    busybox = folder / "root" / "bin" / "busybox"
    with exclusive(cache / f"busybox-{architecture}.lock"):  # test workers may want it at once
        if not busybox.is_file():
            archive = DebianArchive(cache / f"apt-{architecture}", architecture)
            archive.refresh()
            for package in archive.download(["busybox-static"], folder / "debs"):
                extract(package, folder / "root")
    return busybox


def qemu(architecture: str) -> Path:
    """qemu-user-static's emulator for the Debian `architecture`."""
    name = f"qemu-{QEMU_MACHINES[architecture]}-static"
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is missing: {QEMU_HINT}")
    return Path(found)


def emulation_env(tools: Path, proot: Path, architecture: str) -> dict[str, str]:
    """udocker's variables for running `architecture` containers: PATH with `tools` first,
    holding `qemu-<machine>`, and a proot wrapper (around `proot`) passing its full path."""
    emulator = qemu(architecture)
    tools.mkdir(parents=True, exist_ok=True)
    link = tools / f"qemu-{QEMU_MACHINES[architecture]}"
    if not link.exists():
        link.symlink_to(emulator)
    wrapper = tools / EMULATING_WRAPPER
    wrapper.write_text(_WRAPPER.format(qemu=shlex.quote(str(emulator)),
                                       proot=shlex.quote(str(proot))))
    wrapper.chmod(0o755)
    return {"PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
            "UDOCKER_USE_PROOT_EXECUTABLE": str(wrapper)}
