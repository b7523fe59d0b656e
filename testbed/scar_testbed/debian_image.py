"""A small Debian (glibc) test image, for udocker's Fakechroot mode (F1, as on Lambda).

Fakechroot confines dynamically linked programs only (it works through LD_PRELOAD), so the
busybox-static images cannot show F1 at work. This image is Debian bookworm's `dash` and
`coreutils` with their libraries (mmdebstrap's `extract` variant: unpacked, no maintainer
scripts, no apt; docs, manuals and locales left out), about 25 MB, built once in about 20 s and
kept in $SCAR_CI_CACHE/testbed keyed by what it installs. The files of an ImageSpec and a
minimal /etc/passwd and /etc/group go on top; its config is the spec's.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from scar_ci.cache import cache_dir, exclusive
from scar_testbed.images import ETC_FILES, ImageSpec, TestImage

SUITE = "bookworm"
PACKAGES = ("dash", "coreutils")
EXCLUDED = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*")
INSTALL_HINT = "install Debian's mmdebstrap: bash scripts/setup-system.sh"


def _mmdebstrap_command(packages: tuple[str, ...], target: Path) -> list[str]:
    excluded = [f"--dpkgopt=path-exclude={pattern}" for pattern in EXCLUDED]
    return ["mmdebstrap", "--quiet", "--format=tar", "--variant=extract",
            f"--include={','.join(packages)}", *excluded,
            '--customize-hook=ln -sf dash "$1/bin/sh"', SUITE, str(target)]


def debian_rootfs(packages: tuple[str, ...] = PACKAGES) -> Path:
    """The root file system tarball, built the first time (one builder at a time)."""
    if not shutil.which("mmdebstrap"):
        raise RuntimeError(f"mmdebstrap is missing: {INSTALL_HINT}")
    command = _mmdebstrap_command(packages, Path("OUT"))
    key = hashlib.sha256("\0".join(command).encode()).hexdigest()[:16]
    folder = cache_dir() / "testbed"
    target = folder / f"debian-{SUITE}-{key}.tar"
    with exclusive(folder / f"{target.name}.lock"):
        if not target.exists():
            partial = target.with_suffix(".part")
            done = subprocess.run(_mmdebstrap_command(packages, partial), capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"mmdebstrap failed: {done.stderr.strip()[-2000:]}")
            partial.rename(target)
    return target


def debian_image(spec: ImageSpec, packages: tuple[str, ...] = PACKAGES) -> TestImage:
    """`spec`'s files and config over the Debian root file system (its busybox is unused)."""
    layer = io.BytesIO(debian_rootfs(packages).read_bytes())
    files = {**ETC_FILES, **{path.lstrip("/"): data for path, data in spec.files.items()}}
    with tarfile.open(fileobj=layer, mode="a") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode = len(data), 0o644 if name in ETC_FILES else 0o755
            tar.addfile(info, io.BytesIO(data))
    return TestImage(spec, layer.getvalue())
