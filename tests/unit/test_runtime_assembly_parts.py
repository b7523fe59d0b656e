"""The parts of the other-architecture runtime that need no network: ELF needs, the cache
key, which host package owns a library, wheel unpacking, .deb unpacking, and the errors for a
machine without apt-get or dpkg-deb."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scar_ci.errors import UserError
from scar_ci.package.image.debian_archive import DebianPackage, check_package_name, extract
from scar_ci.package.image.elf import MACHINES, elf_needs, is_elf
from scar_ci.package.image.payload import runtime_for
from scar_ci.package.image.runtime import host_architecture
from scar_ci.package.image.runtime_assembly import host_owners, runtime_key
from scar_ci.package.image.wheels import unpack_wheel, wheel_pins

BUSYBOX = Path("/bin/busybox")
OTHER = "arm64" if host_architecture() == "x86_64" else "x86_64"


def test_elf_needs_name_the_loader_and_libraries_of_a_dynamic_program() -> None:
    python = elf_needs(Path(sys._base_executable).resolve())
    static = elf_needs(BUSYBOX)

    assert python.machine == MACHINES[host_architecture()]
    assert python.interpreter and python.interpreter.rsplit("/", 1)[-1].startswith("ld-linux")
    assert "libc.so.6" in python.needed
    assert (static.interpreter, static.needed) == (None, ())
    assert not is_elf(Path(__file__))
    with pytest.raises(ValueError, match="not a readable ELF file"):
        elf_needs(Path(__file__))


def test_the_cache_key_changes_with_each_input_and_not_with_the_order_of_pins() -> None:
    key = runtime_key("arm64", "a" * 64, ["boto3==1", "awslambdaric==2"])

    assert key == runtime_key("arm64", "a" * 64, ["awslambdaric==2", "boto3==1"])
    assert len({key, runtime_key("x86_64", "a" * 64, ["boto3==1", "awslambdaric==2"]),
                runtime_key("arm64", "b" * 64, ["boto3==1", "awslambdaric==2"]),
                runtime_key("arm64", "a" * 64, ["boto3==1", "awslambdaric==3"])}) == 4


def test_wheel_pins_are_the_installed_versions_of_the_whole_closure() -> None:
    pins = wheel_pins(["boto3"])

    import boto3
    import botocore

    assert f"boto3=={boto3.__version__}" in pins
    assert f"botocore=={botocore.__version__}" in pins
    assert any(pin.startswith("jmespath==") for pin in pins)
    with pytest.raises(UserError, match="no-such-dist is not installed"):
        wheel_pins(["no-such-dist"])


def test_host_owners_are_the_machines_packages_for_a_library() -> None:
    assert host_owners(["libc.so.6"]) == {"libc6"}
    assert host_owners(["libno-such-library.so.9"]) == set()


def _wheel(path: Path, members: dict[str, tuple[bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, (data, mode) in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return path


def test_a_wheel_unpacks_its_importable_files_with_their_modes(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "p-1-py3-none-any.whl", {
        "p/__init__.py": (b"x = 1\n", 0o644), "p/_speed.so": (b"\x7fELF", 0o755),
        "p/__pycache__/__init__.cpython-311.pyc": (b"", 0o644),
        "p-1.dist-info/METADATA": (b"Name: p\n", 0o644), "p-1.data/scripts/p": (b"", 0o755)})

    unpack_wheel(wheel, tmp_path / "site")

    found = {p.relative_to(tmp_path / "site").as_posix(): p.stat().st_mode & 0o777
             for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert found == {"p/__init__.py": 0o644, "p/_speed.so": 0o755}


def test_a_wheel_member_leaving_the_site_folder_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "evil-1-py3-none-any.whl", {"../../evil.py": (b"", 0o644)})
    with pytest.raises(UserError, match="inside the image"):
        unpack_wheel(wheel, tmp_path / "site")
    assert not (tmp_path / "evil.py").exists()


def _deb(tmp_path: Path, files: dict[str, tuple[bytes, int]], links: dict[str, str]) -> Path:
    """A real .deb, packed by dpkg-deb from a tree with these files and symbolic links."""
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    for name, (data, mode) in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
        (tree / name).chmod(mode)
    for name, target in links.items():
        (tree / name).symlink_to(target)
    deb = tmp_path / "t_1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)], check=True,
                   capture_output=True)
    return deb


def test_unpacking_a_deb_keeps_links_inside_its_folder(tmp_path: Path) -> None:
    deb = _deb(tmp_path, {"usr/lib/libx.so.1.2": (b"lib", 0o755)},
               {"usr/lib/libx.so.1": "libx.so.1.2", "usr/lib/site.py": "/etc/passwd",
                "usr/lib/up.py": "../../../../etc/passwd"})

    extract(DebianPackage("t", "1", deb), tmp_path / "root")

    lib = tmp_path / "root" / "usr" / "lib"
    assert (lib / "libx.so.1").read_bytes() == b"lib"
    assert (lib / "libx.so.1.2").stat().st_mode & 0o777 == 0o755
    assert not (lib / "site.py").is_symlink() and not (lib / "up.py").is_symlink()


def test_without_apt_get_the_other_architecture_is_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match=r"apt-get is missing: the \w+ runtime is assembled "
                                        r"from Debian packages .*runtime_dirs"):
        runtime_for(OTHER, cache_root=tmp_path / "cache")
    with pytest.raises(UserError, match="dpkg-deb is missing"):
        extract(DebianPackage("t", "1", tmp_path / "t.deb"), tmp_path / "root")


def test_a_cache_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match=r"cannot create the runtime cache folder .*file/r "
                                        r"\(Not a directory\): set SCAR_CI_CACHE"):
        runtime_for(OTHER, cache_root=tmp_path / "file" / "r")


def test_package_names_are_checked_before_apt_sees_them() -> None:
    assert check_package_name("libstdc++6") == "libstdc++6"
    for bad in ("-o", "a b", "x;rm", "", "Upper"):
        with pytest.raises(UserError, match="not a Debian package name"):
            check_package_name(bad)
