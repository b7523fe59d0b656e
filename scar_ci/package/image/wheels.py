"""awslambdaric, boto3 and what they require as wheels for another platform: the versions
installed here, downloaded with this Python's pip (and its configured index), unpacked into a
site folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from scar_ci.errors import UserError
from scar_ci.package.image.runtime import installed_distributions
from scar_ci.package.image.tar_layer import image_path

MANYLINUX_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}


def wheel_pins(names: Iterable[str]) -> tuple[str, ...]:
    """`name==version` of the distributions and all they require, as installed here: the
    other architecture's runtime gets the same versions as this machine's."""
    return tuple(sorted({f"{dist.metadata['Name']}=={dist.version}"
                         for dist in installed_distributions(names)}))


def download_wheels(pins: Iterable[str], architecture: str, python_version: str,
                    folder: Path) -> list[Path]:
    """The wheels of `pins` (binary only, no dependency resolution: the pins are complete)
    for CPython `python_version` on manylinux2014 `architecture`, downloaded into `folder`."""
    tag = python_version.replace(".", "")
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:",
            "--platform", f"manylinux2014_{MANYLINUX_MACHINES[architecture]}",
            "--python-version", python_version, "--implementation", "cp", "--abi", f"cp{tag}",
            "--dest", str(folder), *pins]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        raise UserError(f"cannot download the {architecture} wheels of {', '.join(pins)} for "
                        f"Python {python_version}: "
                        f"{'; '.join(detail) or done.stderr.strip()[-300:] or 'pip failed'}")
    return sorted(folder.glob("*.whl"))


def unpack_wheel(wheel: Path, site: Path) -> None:
    """The wheel's importable files into `site` (no .dist-info, .data or byte code), with the
    executable bit of the archive's modes."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            top = member.filename.split("/", 1)[0]
            if (member.is_dir() or top.endswith((".dist-info", ".data"))
                    or "__pycache__" in member.filename or member.filename.endswith(".pyc")):
                continue
            target = site / image_path(member.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
            target.chmod(0o755 if (member.external_attr >> 16) & 0o111 else 0o644)
