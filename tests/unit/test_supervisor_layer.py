"""The supervisor layer: reproducible bytes, the right files, importable on its own."""

import hashlib
import io
import os
import subprocess
import sys
import zipfile

import pytest

from scar_ci.package.engines import EngineSource
from scar_ci.package.layer import HANDLER, layer_bytes, layer_digest


@pytest.fixture
def engine(tmp_path):
    folder = tmp_path / "engine"
    (folder / "bin").mkdir(parents=True)
    (folder / "lib").mkdir()
    proot = folder / "bin" / "proot"
    proot.write_text("#!/bin/sh\nexec /usr/bin/proot \"$@\"\n")
    proot.chmod(0o755)
    (folder / "lib" / "libfakechroot.so").write_bytes(b"\x7fELF")
    return EngineSource(folder, "a test folder")


def test_same_inputs_same_bytes(engine):
    first = layer_bytes(engine)
    (engine.folder / "bin" / "proot").touch()  # a newer mtime must not matter
    assert layer_bytes(engine) == first


def test_a_changed_input_changes_the_hash(engine):
    before = layer_bytes(engine)
    (engine.folder / "lib" / "libfakechroot.so").write_bytes(b"\x7fELF2")
    assert layer_bytes(engine) != before


def test_the_digest_follows_the_files_not_their_compression(engine, monkeypatch):
    """A deploy knows the layer by its digest (the zip is made only to publish it): any
    file's content or mode changes it, nothing else does."""
    import scar_ci.package.layer as layer

    before = layer_digest(engine)
    monkeypatch.setattr(layer, "COMPRESS_LEVEL", 1)
    (engine.folder / "bin" / "proot").touch()
    assert layer_digest(engine) == before
    (engine.folder / "bin" / "proot").chmod(0o644)
    moded = layer_digest(engine)
    assert moded != before
    (engine.folder / "lib" / "libfakechroot.so").write_bytes(b"\x7fELF2")
    assert len({before, moded, layer_digest(engine)}) == 3


def test_entries_are_sorted_with_fixed_times_and_modes(engine):
    with zipfile.ZipFile(io.BytesIO(layer_bytes(engine))) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert modes["udocker/bin/proot"] == 0o100755
    assert modes["python/scar_ci/supervisor/handler.py"] == 0o100644
    assert "python/udocker/maincmd.py" in names
    assert "udocker/lib/libfakechroot.so" in names
    assert "udocker/SOURCE" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("python/scar_ci/") and "supervisor" not in n
                and n != "python/scar_ci/__init__.py"]


def test_the_layer_alone_provides_the_handler_and_udocker(tmp_path, engine):
    opt = tmp_path / "opt"
    with zipfile.ZipFile(io.BytesIO(layer_bytes(engine))) as archive:
        archive.extractall(opt)
    module, _, function = HANDLER.rpartition(".")
    check = (f"import {module} as m, udocker.maincmd; "
             f"assert m.__file__.startswith({str(opt)!r}); assert callable(m.{function})")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(opt / "python")}
    done = subprocess.run([sys.executable, "-S", "-c", check], env=env, capture_output=True,
                          text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_layer_says_where_its_engines_came_from_with_each_file_hash(engine):
    with zipfile.ZipFile(io.BytesIO(layer_bytes(engine))) as archive:
        source = archive.read("udocker/SOURCE").decode().splitlines()
        proot = archive.read("udocker/bin/proot")
    assert source[0] == "engines from a test folder"
    assert f"{hashlib.sha256(proot).hexdigest()}  udocker/bin/proot" in source
