"""udocker engines made of this machine's Fakechroot and patchelf, for local mode (stdlib only).

udocker's own tools tarball is what a deploy to AWS puts in the supervisor layer
(scar_ci.package.engines). Local mode, when nothing else names an engine folder, wraps the
machine's Debian packages `fakechroot` and `patchelf` as one, laid out like the tarball
(bin/patchelf-<arch>, lib/libfakechroot-<arch>.so), in the cache, keyed by their bytes: the
supervisor then runs udocker in F1 in the executor's sandbox as it does on Lambda. Debian's
libfakechroot is built against this machine's glibc: images with a much older glibc need
udocker's own builds (set SCAR_UDOCKER_ENGINE_DIR).
"""

from __future__ import annotations

import hashlib
import platform
import shutil
from pathlib import Path

from scar_ci.cache import cache_dir
from scar_ci.local.errors import LocalError

PATCHELF = Path("/usr/bin/patchelf")
INSTALL_HINT = "apt-get install fakechroot patchelf (Debian, Ubuntu)"


def fakechroot_library() -> Path:
    """Debian's libfakechroot.so for this machine's architecture."""
    return Path(f"/usr/lib/{platform.machine()}-linux-gnu/fakechroot/libfakechroot.so")


def machine_engines() -> Path:
    """The engine folder, made in the cache the first time; LocalError if a package is missing."""
    library = fakechroot_library()
    missing = [str(p) for p in (library, PATCHELF) if not p.is_file()]
    if missing:
        raise LocalError(f"{' and '.join(missing)} missing: local mode runs udocker in "
                         f"Fakechroot mode (F1, as on Lambda) with them. Install: {INSTALL_HINT}, "
                         "or set SCAR_UDOCKER_ENGINE_DIR to udocker's engines.")
    arch = platform.machine()
    files = {f"bin/patchelf-{arch}": PATCHELF, f"lib/libfakechroot-{arch}.so": library}
    digest = hashlib.sha256()
    for name, source in sorted(files.items()):
        digest.update(name.encode() + b"\0" + source.read_bytes())
    target = cache_dir() / "udocker-engines" / f"machine-{digest.hexdigest()[:16]}"
    if not target.is_dir():
        staging = target.with_name(f"{target.name}.part")
        shutil.rmtree(staging, ignore_errors=True)
        for name, source in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, staging / name)
        try:
            staging.rename(target)
        except OSError:  # made concurrently by another run
            shutil.rmtree(staging, ignore_errors=True)
    return target
