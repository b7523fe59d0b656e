"""The Python that runs the supervisor inside a function image, whatever the base image has.

The user's image may have no Python (or a musl one), so the image gets its own under
`/opt/scar/runtime`, started through its own dynamic loader and libraries (`--library-path`,
no LD_LIBRARY_PATH, so the user's programs are not affected):

    /opt/scar/runtime/bin/python3.X           the interpreter
    /opt/scar/runtime/lib/ld-linux-*.so.*     its loader, libc and the libraries it needs
    /opt/scar/runtime/lib/python3.X/          its standard library (tests, IDLE, tkinter left out)
        site-packages/                        awslambdaric (Lambda's runtime API client), boto3,
                                              and scar.pth pointing at /opt/scar/python

For the building machine's architecture it is made from the machine's own Python
(`host_runtime`); for the other one it is assembled from Debian packages and wheels
(`scar_ci.package.image.runtime_assembly`), or copied from a prepared relocatable Python folder
(`runtime_from_dir`).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from scar_ci.errors import UserError
from scar_ci.package.image.tar_layer import LayerFile
from scar_ci.package.layer import HANDLER

RUNTIME_ROOT = "/opt/scar/runtime"
SUPERVISOR_ROOT = "/opt/scar/python"
DEFAULT_DISTRIBUTIONS = ("awslambdaric", "boto3")
ARCHITECTURES = {"x86_64": "amd64", "arm64": "arm64"}
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
SKIPPED_STDLIB = frozenset({"site-packages", "test", "tests", "idlelib", "tkinter", "turtledemo",
                            "ensurepip", "lib2to3", "__pycache__", "pydoc_data"})
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".a", ".exe")
_SKIPPED_CONFIG_DIR = re.compile(r"config-\d+\.\d+.*")
_SKIPPED_MODULES = re.compile(r"(_test|_xx|xx|_ctypes_test|_tkinter|_curses|readline|nis|spwd"
                              r"|ossaudiodev|_dbm|_gdbm).*\.so")
PTH_CONTENT = f"{SUPERVISOR_ROOT}\n".encode()  # scar.pth: the supervisor's package on sys.path
_LDD_LINE = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


@dataclass(frozen=True)
class Runtime:
    """The files of a Python runtime for the image and the argv that starts the supervisor."""

    architecture: str
    files: tuple[LayerFile, ...]
    entrypoint: tuple[str, ...]


def host_architecture() -> str:
    """The building machine's architecture in FDL terms (x86_64 or arm64)."""
    return _MACHINES.get(platform.machine().lower(), platform.machine())


def runtime_from_dir(folder: Path, architecture: str) -> Runtime:
    """A prepared relocatable Python folder (bin/python3 and lib/), copied under RUNTIME_ROOT;
    it must already hold awslambdaric in its site-packages."""
    if not (folder / "bin" / "python3").exists():
        raise UserError(f"{folder} is not a Python runtime folder: bin/python3 is missing")
    python = f"{RUNTIME_ROOT}/bin/python3"
    return Runtime(architecture, (*folder_files(folder), _pth_file(folder)),
                   (python, *_python_args()))


def folder_files(folder: Path) -> tuple[LayerFile, ...]:
    """The regular files under `folder`, placed under RUNTIME_ROOT (no __pycache__)."""
    return tuple(LayerFile(f"{RUNTIME_ROOT}/{path.relative_to(folder).as_posix()}", path,
                           file_mode(path))
                 for path in sorted(folder.rglob("*"))
                 if path.is_file() and "__pycache__" not in path.parts)


def loader_entry(loader: str, python: str) -> tuple[str, ...]:
    """The argv starting the supervisor: the loader named `loader` in RUNTIME_ROOT/lib runs
    RUNTIME_ROOT/bin/`python` with those libraries."""
    library_dir = f"{RUNTIME_ROOT}/lib"
    return (f"{library_dir}/{loader}", "--library-path", library_dir,
            f"{RUNTIME_ROOT}/bin/{python}", *_python_args())


@cache
def host_runtime(distributions: tuple[str, ...] = DEFAULT_DISTRIBUTIONS) -> Runtime:
    """A self-contained runtime made of the building machine's Python, its libraries and
    loader, and `distributions` (with their dependencies) from the building environment."""
    executable = Path(os.path.realpath(sys._base_executable))  # the real python, not a venv's
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = Path(sysconfig.get_paths(scheme="posix_prefix", vars={
        "base": sys.base_prefix, "installed_base": sys.base_prefix})["stdlib"])
    site = f"{RUNTIME_ROOT}/lib/{version}/site-packages"
    packaged = list(_distribution_files(distributions))
    standard = list(stdlib_files(stdlib))
    modules = [*(path for _, path in standard), *(path for path, _ in packaged)]
    binaries = [executable, *(path for path in modules if path.suffix == ".so")]
    loader, libraries = _shared_libraries(binaries)
    files = [LayerFile(f"{RUNTIME_ROOT}/bin/{version}", executable, 0o755)]
    files += [LayerFile(f"{RUNTIME_ROOT}/lib/{name}", path, 0o755)
              for name, path in sorted(libraries.items())]
    files += [LayerFile(f"{RUNTIME_ROOT}/lib/{version}/{relative}", path, file_mode(path))
              for relative, path in standard]
    files += [LayerFile(f"{site}/{relative}", path, file_mode(path))
              for path, relative in packaged]
    files.append(LayerFile(f"{site}/scar.pth", PTH_CONTENT))
    return Runtime(host_architecture(), tuple(files), loader_entry(loader.name, version))


def _python_args() -> tuple[str, ...]:
    # -I: ignore PYTHON* variables and user site (the user's image may set them);
    # -B: the image is read-only on Lambda, do not try to write .pyc files
    return ("-I", "-B", "-m", "awslambdaric", HANDLER)


def _pth_file(folder: Path) -> LayerFile:
    sites = sorted(folder.glob("lib/python3*/site-packages"))
    if not sites:
        raise UserError(f"{folder}: no lib/python3.X/site-packages; is it a Python install?")
    relative = sites[0].relative_to(folder).as_posix()
    return LayerFile(f"{RUNTIME_ROOT}/{relative}/scar.pth", PTH_CONTENT)


def file_mode(path: Path) -> int:
    """0755 for executable files, else 0644."""
    return 0o755 if os.access(path, os.X_OK) else 0o644


def stdlib_files(stdlib: Path) -> Iterator[tuple[str, Path]]:
    """(path relative to `stdlib`, file) of the standard library the runtime keeps."""
    for path in sorted(stdlib.rglob("*")):
        relative = path.relative_to(stdlib)
        if (SKIPPED_STDLIB.intersection(relative.parts) or not path.is_file()
                or path.suffix in SKIPPED_SUFFIXES
                or _SKIPPED_CONFIG_DIR.fullmatch(relative.parts[0])
                or _SKIPPED_MODULES.fullmatch(path.name)):
            continue
        yield relative.as_posix(), path


def _distribution_files(names: Iterable[str]) -> Iterator[tuple[Path, str]]:
    """(installed file, path relative to site-packages) of the distributions and what they
    require, as installed in the building environment."""
    for dist in installed_distributions(names):
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if "__pycache__" in file.parts or file.suffix == ".pyc" or not path.is_file() \
                    or file.parts[0].startswith("..") or ".dist-info" in file.parts[0]:
                continue
            yield path, file.as_posix()


def installed_distributions(names: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The distributions `names` and all they require, as installed in the building
    environment; a UserError names the first one missing."""
    found: list[importlib.metadata.Distribution] = []
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = _normal(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise UserError(f"{name} is not installed in this Python; the function image needs "
                            f"it: pip install {name}") from None
        pending += [_requirement_name(r) for r in dist.requires or [] if "extra ==" not in r]
        found.append(dist)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return match.group(0) if match else requirement


def _shared_libraries(binaries: Iterable[Path]) -> tuple[Path, dict[str, Path]]:
    """The dynamic loader and {soname: real file} of every library the binaries need."""
    libraries: dict[str, Path] = {}
    loader: Path | None = None
    for binary in binaries:
        for soname, path in _ldd(binary):
            if soname is None:
                loader = Path(path)
                libraries[Path(path).name] = Path(os.path.realpath(path))
            else:
                libraries.setdefault(soname, Path(os.path.realpath(path)))
    if loader is None:
        raise UserError(f"cannot find the dynamic loader of {sys._base_executable}; "
                        "a statically linked Python needs a prepared runtime folder")
    return loader, libraries


def _ldd(binary: Path) -> list[tuple[str | None, str]]:
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    found = []
    for line in done.stdout.splitlines():
        match = _LDD_LINE.match(line)
        if match:
            found.append((match.group(1), match.group(2)))
    return found
