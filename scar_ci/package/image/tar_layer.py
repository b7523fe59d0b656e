"""Reproducible image layers: a tar.gz written as a stream, with the same bytes every time.

Entries are sorted, owned by 0:0, dated 1970-01-01, with fixed modes; missing parent folders
are added; gzip carries no name and no timestamp. The compressed digest (the registry blob)
and the uncompressed one (the config's `diff_id`) are computed while writing, and a layer
whose inputs were already written to the cache folder is not written again.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from scar_ci.errors import UserError

GZIP_LEVEL = 6
COPY_CHUNK = 1024 * 1024
DIR_MODE = 0o755


@dataclass(frozen=True)
class LayerFile:
    """One regular file of a layer: absolute path in the image, content, mode."""

    path: str
    source: bytes | Path
    mode: int = 0o644

    def content_digest(self) -> str:
        """sha256 hex of the content."""
        if isinstance(self.source, bytes):
            return hashlib.sha256(self.source).hexdigest()
        hasher = hashlib.sha256()
        with self.source.open("rb") as stream:
            for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
                hasher.update(chunk)
        return hasher.hexdigest()

    def size(self) -> int:
        """Content length in bytes."""
        return len(self.source) if isinstance(self.source, bytes) else self.source.stat().st_size


@dataclass(frozen=True)
class LayerBlob:
    """A written layer: the gzip file, its digest and size, and the tar's digest (diff_id)."""

    path: Path
    digest: str
    diff_id: str
    size: int


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what passes through on its way to `target`."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.hasher = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.hasher.update(data)
        self.count += len(data)
        self.target.write(data)
        return len(data)

    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()


def image_path(path: str) -> str:
    """`path` as a relative tar member name; refuses paths leaving the image root."""
    pure = PurePosixPath("/" + path.lstrip("/"))
    if ".." in pure.parts or "\\" in path or "\0" in path or pure == PurePosixPath("/"):
        raise UserError(f"image file path {path!r} must be a file path inside the image, "
                        "without '..' or backslashes")
    return pure.as_posix().lstrip("/")


def layer_key(files: Sequence[LayerFile]) -> str:
    """sha256 hex naming the layer's inputs (paths, modes, contents): the cache key."""
    listing = sorted((image_path(f.path), f.mode, f.content_digest()) for f in files)
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def write_layer(files: Sequence[LayerFile], cache_dir: Path) -> LayerBlob:
    """The tar.gz layer of `files` in `cache_dir` (reused when the same inputs were written)."""
    key = layer_key(files)
    cache_dir.mkdir(parents=True, exist_ok=True)
    blob_path, meta_path = cache_dir / f"{key}.tar.gz", cache_dir / f"{key}.json"
    if blob_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        return LayerBlob(blob_path, meta["digest"], meta["diff_id"], blob_path.stat().st_size)
    partial = blob_path.with_suffix(".part")
    with partial.open("wb") as raw:
        compressed = _HashingWriter(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed,  # type: ignore[arg-type]
                           compresslevel=GZIP_LEVEL, mtime=0) as zipped:
            plain = _HashingWriter(zipped)  # type: ignore[arg-type]
            _write_tar(files, plain)
    blob = LayerBlob(blob_path, compressed.digest(), plain.digest(), compressed.count)
    partial.replace(blob_path)
    meta_path.write_text(json.dumps({"digest": blob.digest, "diff_id": blob.diff_id}))
    return blob


def _write_tar(files: Sequence[LayerFile], target: _HashingWriter) -> None:
    by_name = {image_path(f.path): f for f in files}
    if len(by_name) != len(files):
        raise UserError("two files of the supervisor layer have the same path in the image")
    with tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for name in sorted(set(by_name) | _parents(by_name)):
            entry = by_name.get(name)
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if entry is None:
                info.type, info.mode = tarfile.DIRTYPE, DIR_MODE
                tar.addfile(info)
                continue
            info.mode, info.size = entry.mode, entry.size()
            with _open(entry.source) as stream:
                tar.addfile(info, stream)


def _parents(names: Iterable[str]) -> set[str]:
    return {parent.as_posix() for name in names
            for parent in PurePosixPath(name).parents if parent.name}


def _open(source: bytes | Path) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
