"""Where the supervisor layer's udocker engines come from: the variable, the action image's
folder, else udocker's tools tarball downloaded (here from a local HTTP server standing in for
GitHub) and checked against its git blob id; every failure is one LayerBuildError."""

import io
import tarfile

import pytest

from scar_ci.package import engines
from scar_ci.package.engines import (
    BLOB_ID_ENV,
    ENGINE_ENV,
    URL_ENV,
    LayerBuildError,
    engine_source,
    git_blob_id,
)
from scar_testbed.http_stub import serving_file


def tools_tarball() -> bytes:
    """A tarball laid out like udocker's: udocker_dir/bin, udocker_dir/lib, and what to skip."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data, mode in (("udocker_dir/bin/patchelf-x86_64", b"\x7fELF patchelf", 0o755),
                                 ("udocker_dir/lib/libfakechroot-x86_64.so", b"\x7fELF lib", 0o644),
                                 ("udocker_dir/doc/README", b"docs", 0o644),
                                 ("udocker_dir/bin/../../escape", b"no", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def served(monkeypatch, tmp_path):
    """The tarball on a local HTTP server: (its URL, its bytes); the cache and the image
    folder point into tmp."""
    data = tools_tarball()
    monkeypatch.setenv("SCAR_CI_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    monkeypatch.setattr(engines, "IMAGE_ENGINE_DIR", tmp_path / "no-image-engines")
    with serving_file("/englib.tar.gz", data) as url:
        yield url, data


def refused(monkeypatch, url: str, blob_id: str, message: str) -> None:
    monkeypatch.setenv(URL_ENV, url)
    monkeypatch.setenv(BLOB_ID_ENV, blob_id)
    with pytest.raises(LayerBuildError, match=message):
        engine_source()


def test_git_blob_id_is_gits():
    assert git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git hash-object
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_the_pinned_tarball_is_the_default_and_pinned_to_a_commit():
    assert engines.TARBALL_URL.count(engines.TARBALL_COMMIT) == 1
    assert engines.TARBALL_URL.endswith("/tarballs/udocker-englib-1.2.11.tar.gz")
    assert engines.TARBALL_BLOB_ID == "17f7341a84ea7b25d072fcdb48c8b68570201020"


def test_a_matching_download_is_extracted_once_into_the_cache(served, monkeypatch):
    url, data = served
    monkeypatch.setenv(URL_ENV, url)
    monkeypatch.setenv(BLOB_ID_ENV, git_blob_id(data))
    source = engine_source()
    files = sorted(p.relative_to(source.folder).as_posix() for p in source.folder.rglob("*")
                   if p.is_file())
    assert files == ["bin/patchelf-x86_64", "lib/libfakechroot-x86_64.so"]
    assert (source.folder / "bin" / "patchelf-x86_64").stat().st_mode & 0o111
    assert git_blob_id(data) in source.origin
    monkeypatch.setenv(URL_ENV, f"{url}.gone")  # cached: no second download
    monkeypatch.setenv(BLOB_ID_ENV, git_blob_id(data))
    assert engine_source().folder == source.folder


def test_a_mismatching_download_is_refused_and_not_cached(served, monkeypatch):
    url, data = served
    refused(monkeypatch, url, "0" * 40, f"git blob {git_blob_id(data)}, expected 0000")
    assert not list((engines.cache_dir() / "udocker-engines").glob("0*"))


def test_a_failed_download_says_what_to_do(served, monkeypatch):
    url, _ = served
    refused(monkeypatch, f"{url}.gone", "1" * 40, f"cannot download.*set {ENGINE_ENV}")


def test_a_mirror_needs_both_its_url_and_its_blob_id(served, monkeypatch):
    monkeypatch.setenv(URL_ENV, "https://mirror.example/englib.tar.gz")
    with pytest.raises(LayerBuildError, match="go together"):
        engine_source()


def test_the_variable_comes_first_then_the_image_folder(served, monkeypatch, tmp_path):
    image = tmp_path / "image-engines"
    (image / "bin").mkdir(parents=True)
    monkeypatch.setattr(engines, "IMAGE_ENGINE_DIR", image)
    assert engine_source().folder == image
    own = tmp_path / "own"
    (own / "bin").mkdir(parents=True)
    monkeypatch.setenv(ENGINE_ENV, str(own))
    assert engine_source() == engines.EngineSource(own, ENGINE_ENV)


def test_a_folder_without_bin_is_a_clear_error(served, monkeypatch, tmp_path):
    monkeypatch.setenv(ENGINE_ENV, str(tmp_path))
    with pytest.raises(LayerBuildError, match="not a udocker engine folder"):
        engine_source()
