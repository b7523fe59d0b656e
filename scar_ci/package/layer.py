"""The supervisor layer zip: scar_ci.supervisor, udocker and its engines; reproducible.

Same inputs give the same bytes and the same sha256 (sorted entries, fixed timestamps and
modes, fixed compression), so a deploy can keep an unchanged layer. Layout (Lambda mounts
layers at /opt and puts /opt/python on sys.path):

    python/scar_ci/__init__.py            a stub: only the supervisor ships
    python/scar_ci/supervisor/*.py
    python/udocker/...                    the udocker package of the building Python
    udocker/bin/..., udocker/lib/...      udocker's engines, when an engine folder is given

The engines (proot, fakechroot libraries, patchelf: udocker's "udockertools" tarball,
extracted) come from `engine_dir` or the SCAR_UDOCKER_ENGINE_DIR variable; without them the
supervisor relies on UDOCKER_USE_PROOT_EXECUTABLE (what the tests do with Debian's proot).
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

HANDLER = "scar_ci.supervisor.handler.lambda_handler"
LAYER_FILE_NAME = "scar-supervisor-layer.zip"
ENGINE_ENV = "SCAR_UDOCKER_ENGINE_DIR"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
STUB_INIT = b'"""scar-ci\'s supervisor layer: only scar_ci.supervisor is shipped here."""\n'
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


class LayerBuildError(Exception):
    """Something the layer needs is missing on the building machine."""


def build_supervisor_layer(dest_dir: Path, engine_dir: Path | None = None) -> tuple[Path, str]:
    """Write the layer zip into `dest_dir`; return (its path, the sha256 hex of its bytes)."""
    engine = engine_dir or _engine_from_environment()
    data = layer_bytes(engine)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / LAYER_FILE_NAME
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path, hashlib.sha256(data).hexdigest()


def layer_bytes(engine_dir: Path | None = None) -> bytes:
    """The layer zip's bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source, executable in sorted(_entries(engine_dir)):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so the modes below are honoured
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            content = source if isinstance(source, bytes) else source.read_bytes()
            archive.writestr(info, content, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def _entries(engine_dir: Path | None) -> Iterator[tuple[str, bytes | Path, bool]]:
    yield "python/scar_ci/__init__.py", STUB_INIT, False
    supervisor = Path(scar_ci.supervisor.__file__).parent
    yield from _tree(supervisor, "python/scar_ci/supervisor")
    yield from _tree(_udocker_package(), "python/udocker")
    if engine_dir is not None:
        for part in ("bin", "lib"):
            if (engine_dir / part).is_dir():
                yield from _tree(engine_dir / part, f"udocker/{part}")


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
        raise LayerBuildError("udocker is not installed in this Python: "
                              "pip install udocker==1.3.17 (it goes into the supervisor layer)")
    return Path(spec.origin).parent


def _engine_from_environment() -> Path | None:
    value = os.environ.get(ENGINE_ENV)
    if not value:
        return None
    engine = Path(value)
    if not (engine / "bin").is_dir():
        raise LayerBuildError(f"{ENGINE_ENV}={value}: expected a folder with bin/ (and lib/), "
                              "e.g. udocker's udockertools tarball extracted")
    return engine
