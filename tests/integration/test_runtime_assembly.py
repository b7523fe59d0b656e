"""The other architecture's runtime for real: assembled from Debian's packages (the machine's
apt sources, a private state) and PyPI's wheels, then run with qemu-user-static: every
extension module it keeps imports, awslambdaric's native client loads. Cached, reproducible,
and clear errors when the sources lack the architecture or a wheel does not exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scar_ci.errors import UserError
from scar_ci.package.image.payload import runtime_for
from scar_ci.package.image.runtime import (
    ARCHITECTURES,
    DEFAULT_DISTRIBUTIONS,
    Runtime,
    host_architecture,
)
from scar_ci.package.image.runtime_assembly import assembled_runtime
from scar_ci.package.image.tar_layer import layer_key
from scar_ci.package.image.wheels import download_wheels
from scar_testbed.emulation import qemu

pytestmark = pytest.mark.integration
OTHER = "arm64" if host_architecture() == "x86_64" else "x86_64"
DEBIAN = ARCHITECTURES[OTHER]
SOURCES = Path("/etc/apt/sources.list.d")
LOADERS = {"x86_64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Runtime, Path, list[str]]:
    """The other architecture's runtime assembled into an empty cache: (runtime, cache,
    progress lines)."""
    cache = tmp_path_factory.mktemp("runtimes")
    lines: list[str] = []
    return runtime_for(OTHER, cache_root=cache, progress=lines.append), cache, lines


def _tree(runtime: Runtime) -> Path:
    python = next(f for f in runtime.files if re.fullmatch(r".*/bin/python3\.\d+", f.path))
    assert isinstance(python.source, Path)
    return python.source.parent.parent


def _import_everything(runtime: Runtime, emulator: list[str]
                       ) -> tuple[subprocess.CompletedProcess[str], Path, set[str]]:
    """Start the runtime's Python as its entry does (loader, --library-path) and import every
    lib-dynload module, ssl, awslambdaric's native client and boto3: (result, tree, modules)."""
    tree = _tree(runtime)
    loader, python = Path(runtime.entrypoint[0]).name, Path(runtime.entrypoint[3]).name
    modules = sorted(p.name.split(".")[0] for p in tree.glob("lib/python3*/lib-dynload/*.so"))
    probe = ("import importlib, sys, ssl, awslambdaric.bootstrap, runtime_client, boto3\n"
             f"for name in {modules!r}: importlib.import_module(name)\n"
             "print(sys.prefix, [p for p in sys.path if p.endswith('dist-packages')], "
             "ssl.OPENSSL_VERSION)\n")
    done = subprocess.run([*emulator, str(tree / "lib" / loader), "--library-path",
                           str(tree / "lib"), str(tree / "bin" / python), "-I", "-B", "-c",
                           probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == [str(tree), f"['{tree}/lib/python3/dist-packages']"]
    return done, tree, set(modules)


def test_every_module_of_the_assembled_runtime_imports_under_emulation(
    assembled: tuple[Runtime, Path, list[str]]
) -> None:
    runtime, _, lines = assembled

    _, tree, modules = _import_everything(runtime, [str(qemu(DEBIAN))])

    assert {"_ssl", "_hashlib", "_ctypes", "_decimal", "_sqlite3", "_lzma", "_uuid"} <= modules
    assert not {"_tkinter", "readline", "_curses", "nis", "_dbm"} & modules
    manifest = json.loads((tree.parent / "runtime.json").read_text())
    # only packages that give the runtime a file are recorded (and followed)
    assert {"libc6", "libssl3", "libstdc++6", "zlib1g"} <= set(manifest["debian"])
    assert not {"libdb5.3", "libncursesw6", "libreadline8", "media-types"} & set(
        manifest["debian"])
    assert any(name.startswith("awslambdaric-") for name in manifest["wheels"])
    assert any("downloading" in line and "Debian packages" in line for line in lines), lines


def test_the_assembly_for_this_machines_own_architecture_runs_natively(tmp_path: Path) -> None:
    # what an arm64 machine does for x86_64 images (and the reverse), run without emulation:
    # Debian's Python for this architecture, not the building Python
    own = host_architecture()
    runtime = assembled_runtime(own, DEFAULT_DISTRIBUTIONS, tmp_path, lambda _: None)

    done, tree, modules = _import_everything(runtime, [])

    assert runtime.entrypoint[0] == f"/opt/scar/runtime/lib/{LOADERS[own]}"
    assert "_ssl" in modules and "OpenSSL" in done.stdout
    assert (tree / "lib" / "libstdc++.so.6").is_file()


def test_a_second_build_downloads_nothing_and_a_new_cache_gives_the_same_layer(
    assembled: tuple[Runtime, Path, list[str]], tmp_path: Path
) -> None:
    runtime, cache, _ = assembled
    again_lines: list[str] = []
    again = runtime_for(OTHER, cache_root=cache, progress=again_lines.append)
    # a new cache with the same package lists (the same index), asked by two builds at once:
    # assembled again from nothing, once
    shutil.copytree(cache / f"apt-{DEBIAN}" / "state", tmp_path / "fresh" / f"apt-{DEBIAN}"
                    / "state")
    fresh_lines: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        fresh, other = pool.map(lambda _: runtime_for(OTHER, cache_root=tmp_path / "fresh",
                                                      progress=fresh_lines.append), range(2))

    assert again == runtime
    assert [line for line in again_lines if "downloading" in line] == []
    assert fresh == other
    assert len([line for line in fresh_lines if "runtime assembled" in line]) == 1, fresh_lines
    # same paths, modes and contents: the same layer bytes (test_image_parts shows that part)
    assert layer_key(fresh.files) == layer_key(runtime.files)
    assert fresh.entrypoint == runtime.entrypoint


def test_sources_without_the_architecture_are_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # like an Ubuntu runner: the machine's sources, but for its own architecture only
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    host = ARCHITECTURES[host_architecture()]
    for source in sorted(SOURCES.glob("*.sources")):
        stanzas = [s for s in source.read_text().split("\n\n") if s.strip()]
        (parts / source.name).write_text(
            "\n\n".join(f"{s.strip()}\nArchitectures: {host}" for s in stanzas) + "\n")
    config = tmp_path / "apt.conf"
    config.write_text(f'Dir::Etc::sourcelist "{tmp_path / "none.list"}";\n'
                      f'Dir::Etc::sourceparts "{parts}";\n')
    monkeypatch.setenv("APT_CONFIG", str(config))

    with pytest.raises(UserError, match=rf"apt sources have no {DEBIAN} packages, so no "
                                        rf"{OTHER} Python .*add {DEBIAN} sources.*runtime_dirs"):
        runtime_for(OTHER, cache_root=tmp_path / "cache")


def test_a_wheel_that_does_not_exist_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=rf"cannot download the {OTHER} wheels of "
                                        r"awslambdaric==0\.0\.1 for Python 3\.11"):
        download_wheels(["awslambdaric==0.0.1"], OTHER, "3.11", tmp_path)
