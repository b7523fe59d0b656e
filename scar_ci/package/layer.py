"""The supervisor layer zip: scar_ci.supervisor, udocker and its engines; reproducible.

Same inputs give the same bytes (sorted entries, fixed timestamps and modes, fixed
compression). A deploy knows the layer by `layer_digest`, the sha256 of its files, which costs
reading them; the zip (compressing a few megabytes of engines) is made only when a version is
published. Layout (Lambda mounts
layers at /opt and puts /opt/python on sys.path):

    python/scar_ci/__init__.py            a stub: only the supervisor ships
    python/scar_ci/supervisor/*.py
    python/udocker/...                    the udocker package of the building Python
    udocker/bin/..., udocker/lib/...      udocker's engines (proot, libfakechroot, patchelf)
    udocker/SOURCE                        where the engines came from, and each file's sha256

The engines come from scar_ci.package.engines (SCAR_UDOCKER_ENGINE_DIR, the action image's,
else udocker's pinned and verified tools tarball); the layer's sha256 covers them. Without an
engine folder (tests of the supervisor alone) the layer has no udocker/.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import scar_ci.supervisor
from scar_ci.package.engines import EngineSource, LayerBuildError

HANDLER = "scar_ci.supervisor.handler.lambda_handler"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
STUB_INIT = b'"""scar-ci\'s supervisor layer: only scar_ci.supervisor is shipped here."""\n'
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


__all__ = ["HANDLER", "LayerBuildError", "layer_bytes", "layer_digest"]


def layer_bytes(engines: EngineSource | None) -> bytes:
    """The layer zip's bytes, with `engines` (deploys pass engine_source(); None: no udocker/)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source, executable in sorted(_entries(engines)):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so the modes below are honoured
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            content = source if isinstance(source, bytes) else source.read_bytes()
            archive.writestr(info, content, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def layer_digest(engines: EngineSource | None) -> str:
    """The layer's identity: the sha256 of its entries in order (name, mode, content), so the
    same files are the same layer whatever the zip's compression makes of them."""
    digest = hashlib.sha256()
    for name, source, executable in sorted(_entries(engines)):
        content = source if isinstance(source, bytes) else source.read_bytes()
        digest.update(f"{name}\0{int(executable)}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _entries(engines: EngineSource | None) -> Iterator[tuple[str, bytes | Path, bool]]:
    yield "python/scar_ci/__init__.py", STUB_INIT, False
    supervisor = Path(scar_ci.supervisor.__file__).parent
    yield from _tree(supervisor, "python/scar_ci/supervisor")
    yield from _tree(_udocker_package(), "python/udocker")
    if engines is not None:
        files = [entry for part in ("bin", "lib") if (engines.folder / part).is_dir()
                 for entry in _tree(engines.folder / part, f"udocker/{part}")]
        yield from files
        yield "udocker/SOURCE", _source_record(engines, files), False


def _source_record(engines: EngineSource, files: list[tuple[str, Path, bool]]) -> bytes:
    """What udocker/SOURCE says: the engines' origin, then `sha256  name` per file."""
    lines = [f"engines from {engines.origin}"]
    lines += [f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}"
              for name, path, _ in sorted(files)]
    return "\n".join([*lines, ""]).encode()


def _tree(folder: Path, prefix: str) -> Iterator[tuple[str, Path, bool]]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if SKIPPED_PARTS.intersection(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        if path.is_file():
            yield f"{prefix}/{relative.as_posix()}", path, os.access(path, os.X_OK)


def _udocker_package() -> Path:
    spec = importlib.util.find_spec("udocker")
    if spec is None or spec.origin is None:
        raise LayerBuildError("udocker is not installed in this Python: pip install "
                              "udocker==1.3.17, a dependency of scar-ci (it goes into the "
                              "supervisor layer)")
    return Path(spec.origin).parent
