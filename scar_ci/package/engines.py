"""The udocker engines that travel in the supervisor layer (udocker/bin, udocker/lib): from where.

In order, the first that exists:
1. $SCAR_UDOCKER_ENGINE_DIR, a folder with bin/ (and lib/) like udocker's tools tarball;
2. the action image's engines, /opt/udocker-engines (its Dockerfile fetches and verifies them);
3. udocker's own tools tarball, downloaded once into scar-ci's cache from a URL pinned to a
   commit of jorge-lip/udocker-builds and checked against its git blob id before use
   ($SCAR_UDOCKER_ENGINE_URL with $SCAR_UDOCKER_ENGINE_BLOB_ID name a mirror: both or none).

A folder that is not an engine folder, a download that fails or bytes that do not match are one
LayerBuildError (a UserError: one message, before any AWS call).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scar_ci.cache import cache_dir
from scar_ci.errors import UserError

ENGINE_ENV = "SCAR_UDOCKER_ENGINE_DIR"
IMAGE_ENGINE_DIR = Path("/opt/udocker-engines")
URL_ENV = "SCAR_UDOCKER_ENGINE_URL"
BLOB_ID_ENV = "SCAR_UDOCKER_ENGINE_BLOB_ID"
# udocker 1.3.17's tools tarball, at a fixed commit, and the git blob id of its bytes there.
TARBALL_COMMIT = "6c15741787b8f5591e0aa44d06aab67d9370a9ce"
TARBALL_URL = ("https://raw.githubusercontent.com/jorge-lip/udocker-builds/"
               f"{TARBALL_COMMIT}/tarballs/udocker-englib-1.2.11.tar.gz")
TARBALL_BLOB_ID = "17f7341a84ea7b25d072fcdb48c8b68570201020"
TARBALL_PARTS = ("bin", "lib")  # udocker_dir/bin/..., udocker_dir/lib/... in the tarball
DOWNLOAD_TIMEOUT_S = 120


class LayerBuildError(UserError):
    """Something the supervisor layer needs is missing or unverified on the building machine."""


@dataclass(frozen=True)
class EngineSource:
    """An engine folder (bin/, lib/) and where it came from, in words (no local path: the
    layer records it, and the same engines must give the same layer anywhere)."""

    folder: Path
    origin: str


def git_blob_id(data: bytes) -> str:
    """Git's id of a file's bytes: SHA-1 of `blob <size>\\0` + bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def engine_source() -> EngineSource:
    """The engines for the layer (see the module docstring)."""
    if value := os.environ.get(ENGINE_ENV):
        return EngineSource(_engine_folder(Path(value), f"{ENGINE_ENV}={value}"), ENGINE_ENV)
    if IMAGE_ENGINE_DIR.is_dir():
        origin = f"the action image's {IMAGE_ENGINE_DIR}"
        return EngineSource(_engine_folder(IMAGE_ENGINE_DIR, origin), origin)
    url, blob_id = _tarball()
    return EngineSource(downloaded_engines(url, blob_id),
                        f"udocker's tools tarball {url} (git blob {blob_id})")


def _engine_folder(folder: Path, named_by: str) -> Path:
    if not (folder / "bin").is_dir():
        raise LayerBuildError(f"{named_by}: not a udocker engine folder (expected bin/ and "
                              "lib/, as in udocker's tools tarball extracted); fix the path or "
                              f"unset {ENGINE_ENV} to use the pinned tarball")
    return folder


def _tarball() -> tuple[str, str]:
    url, blob_id = os.environ.get(URL_ENV, ""), os.environ.get(BLOB_ID_ENV, "")
    if bool(url) != bool(blob_id):
        raise LayerBuildError(f"{URL_ENV} and {BLOB_ID_ENV} go together (a mirror of udocker's "
                              "tools tarball and the git blob id of its bytes): set both or none")
    return (url, blob_id.lower()) if url else (TARBALL_URL, TARBALL_BLOB_ID)


def downloaded_engines(url: str, blob_id: str) -> Path:
    """The tarball's engines in the cache (`udocker-engines/<blob id>/`), downloaded and
    verified the first time."""
    target = cache_dir() / "udocker-engines" / blob_id
    if target.is_dir():
        return target
    data = _download(url)
    if (found := git_blob_id(data)) != blob_id:
        raise LayerBuildError(f"udocker's tools tarball from {url} is not the expected one "
                              f"(git blob {found}, expected {blob_id}): nothing was deployed; "
                              f"set {ENGINE_ENV} to a verified engine folder instead")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent))
    try:
        _extract(data, staging, url)
        staging.rename(target)
    except OSError:  # extracted concurrently by another run
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _download(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise LayerBuildError(f"{URL_ENV}={url}: an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (checked)
            return response.read()
    except OSError as error:
        raise LayerBuildError(
            f"cannot download udocker's engines from {url} ({error}): the supervisor layer "
            f"needs them; set {ENGINE_ENV} to an engine folder (bin/, lib/) when offline"
        ) from None


def _extract(data: bytes, folder: Path, url: str) -> None:
    """udocker_dir/bin/* and udocker_dir/lib/* (regular files only) into folder/bin, lib."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if (len(parts) < 3 or parts[0] != "udocker_dir" or parts[1] not in TARBALL_PARTS
                        or ".." in parts or not member.isfile()):
                    continue
                path = folder.joinpath(*parts[1:])
                path.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                path.write_bytes(source.read() if source else b"")
                path.chmod(0o755 if member.mode & 0o111 else 0o644)
    except (tarfile.TarError, EOFError) as error:
        raise LayerBuildError(f"udocker's tools tarball from {url} cannot be read: {error}"
                              ) from None
    if not (folder / "bin").is_dir():
        raise LayerBuildError(f"udocker's tools tarball from {url} has no udocker_dir/bin/")
