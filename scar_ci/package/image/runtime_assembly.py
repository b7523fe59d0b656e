"""A runtime for the other architecture (arm64 on an x86_64 machine, or the reverse),
assembled from Debian's Python for that architecture and wheels of awslambdaric and boto3.

- Debian's package lists for the architecture are fetched with the machine's apt sources into
  a private folder (`DebianArchive`); the distribution's default Python (python3-minimal's
  pythonX.Y-minimal, libpythonX.Y-minimal, libpythonX.Y-stdlib) is downloaded and unpacked.
- The wheels of awslambdaric, boto3 and what they require, at the versions installed here, are
  downloaded for that platform and unpacked into `lib/python3/dist-packages` (Debian's Python
  looks for `dist-packages`, not `site-packages`).
- The libraries are computed, not listed: the DT_NEEDED entries of the interpreter and every
  extension module kept are looked up in the packages downloaded so far; what is missing is
  looked for in their dependencies (apt-cache depends), and, for what wheels need that no
  Debian dependency names (libstdc++ for awslambdaric), in the package that owns the library
  on this machine (dpkg-query -S). Only packages that provide a needed library are followed.

The result is laid out like the host runtime (loader, libc and libraries in lib/) and kept in
the cache folder under a key of the architecture, the package lists' Release files and the
wheel versions: a second build downloads nothing, and the same inputs give the same files.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from scar_ci.cache import exclusive
from scar_ci.errors import UserError
from scar_ci.package.image.debian_archive import DebianArchive, DebianPackage, extract
from scar_ci.package.image.elf import MACHINES, elf_needs, is_elf
from scar_ci.package.image.runtime import (
    ARCHITECTURES,
    PTH_CONTENT,
    Runtime,
    folder_files,
    host_architecture,
    loader_entry,
    stdlib_files,
)
from scar_ci.package.image.wheels import download_wheels, unpack_wheel, wheel_pins

LAYOUT = 1  # bump when the assembled layout changes: it is part of the cache key
MANIFEST = "runtime.json"
SITE = "lib/python3/dist-packages"
TRIPLETS = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
_PYTHON_PACKAGE = re.compile(r"python(3\.\d+)-minimal")
_DEFAULT_PYTHON = "python3-minimal"
_FIX_SOURCES = ("add {arch} sources to apt (a sources entry with Architectures: {arch}; "
                "Ubuntu keeps {arch} on its ports archive), run scar-ci in the action's image, "
                "or give runtime_dirs a prepared Python folder for {fdl}")


def assembled_runtime(architecture: str, distributions: Iterable[str], cache_root: Path,
                      progress: Callable[[str], None]) -> Runtime:
    """The `architecture` runtime, from the cache or assembled into it."""
    debian = ARCHITECTURES[architecture]
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the runtime cache folder {cache_root} "
                        f"({error.strerror}): set SCAR_CI_CACHE to a writable folder") from None
    with exclusive(cache_root / f".{architecture}.lock"):  # one apt and assembly at a time
        archive = DebianArchive(cache_root / f"apt-{debian}", debian, progress)
        archive.refresh()
        if not archive.has_packages():
            raise UserError(f"this machine's apt sources have no {debian} packages, so no "
                            f"{architecture} Python can be assembled: "
                            + _FIX_SOURCES.format(arch=debian, fdl=architecture))
        pins = wheel_pins(distributions)
        key = runtime_key(architecture, archive.index_digest(), pins)
        folder = cache_root / f"{architecture}-{key}"
        if (folder / MANIFEST).is_file():
            progress(f"using the cached {architecture} runtime ({folder})")
        else:
            with tempfile.TemporaryDirectory(dir=cache_root, prefix=".assembling-") as work:
                _Assembly(archive, architecture, Path(work), progress).run(pins)
                shutil.rmtree(folder, ignore_errors=True)  # a half-written one, if any
                Path(work, "runtime").replace(folder)
    return runtime_from_assembly(folder, architecture)


def runtime_key(architecture: str, index_digest: str, pins: Iterable[str]) -> str:
    """24 hex digits naming an assembled runtime's inputs."""
    inputs = {"layout": LAYOUT, "architecture": architecture, "index": index_digest,
              "wheels": sorted(pins)}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]


def runtime_from_assembly(folder: Path, architecture: str) -> Runtime:
    """The Runtime of an assembled folder (`tree/` and the manifest with the entry)."""
    manifest = json.loads((folder / MANIFEST).read_text())
    return Runtime(architecture, folder_files(folder / "tree"), tuple(manifest["entrypoint"]))


@dataclass
class _Assembly:
    """One assembly in `work`: packages unpacked per package, the layout written to
    `work/runtime/tree`."""

    archive: DebianArchive
    architecture: str
    work: Path
    progress: Callable[[str], None]
    packages: dict[str, DebianPackage] = field(default_factory=dict)

    @property
    def tree(self) -> Path:
        return self.work / "runtime" / "tree"

    def run(self, pins: tuple[str, ...]) -> None:
        version = self._python_version()
        python = f"python{version}"
        seeds = [f"{python}-minimal", f"lib{python}-minimal", f"lib{python}-stdlib"]
        self._fetch(seeds)
        interpreter = self.tree / "bin" / python
        self._copy(self._root(seeds[0]) / "usr" / "bin" / python, interpreter)
        for name in seeds[1:]:
            stdlib = self._root(name) / "usr" / "lib" / python
            for relative, path in stdlib_files(stdlib):
                self._copy(path, self.tree / "lib" / python / relative)
        wheels = self._wheels(pins, version)
        binaries = [interpreter, *(p for p in sorted(self.tree.rglob("*.so*")) if is_elf(p))]
        loader = self._check_interpreter(interpreter)
        libraries, owners = self._libraries(binaries, seeds)
        for soname, path in sorted(libraries.items()):
            self._copy(path, self.tree / "lib" / soname)
        manifest = {"entrypoint": list(loader_entry(loader, python)),
                    "debian": {name: self.packages[name].version
                               for name in sorted({*seeds, *owners})},
                    "wheels": wheels}
        (self.work / "runtime" / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        size = sum(f.size() for f in folder_files(self.tree))
        self.progress(f"{self.architecture} runtime assembled: Python {version}, "
                      f"{len(libraries)} libraries, {len(wheels)} wheels, {size / 1e6:.0f} MB")

    def _copy(self, source: Path, target: Path) -> None:
        """Copy an unpacked file into the tree; it must really be inside the packages."""
        real = source.resolve()
        if not real.is_relative_to((self.work / "packages").resolve()):
            raise UserError(f"{source.relative_to(self.work)} leads out of the unpacked "
                            "packages; refusing to copy it")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real, target)
        target.chmod(0o755 if real.stat().st_mode & 0o111 else 0o644)

    def _python_version(self) -> str:
        names = self.archive.depends([_DEFAULT_PYTHON])
        versions = sorted(m.group(1) for name in names if (m := _PYTHON_PACKAGE.fullmatch(name)))
        if not versions:
            raise UserError(f"the apt sources have no {_DEFAULT_PYTHON} for "
                            f"{self.archive.architecture}: "
                            + _FIX_SOURCES.format(arch=self.archive.architecture,
                                                  fdl=self.architecture))
        return versions[-1]

    def _root(self, name: str) -> Path:
        return self.work / "packages" / name

    def _fetch(self, names: Iterable[str]) -> None:
        wanted = sorted(set(names) - set(self.packages))
        self.progress(f"assembling the {self.architecture} runtime: downloading {len(wanted)} "
                      f"Debian packages ({', '.join(wanted)}) …")
        for package in self.archive.download(wanted, self.work / "debs"):
            extract(package, self._root(package.name))
            self.packages[package.name] = package

    def _wheels(self, pins: tuple[str, ...], version: str) -> dict[str, str]:
        self.progress(f"assembling the {self.architecture} runtime: downloading "
                      f"{len(pins)} wheels ({', '.join(pins)}) …")
        site = self.tree / SITE
        found = {}
        for wheel in download_wheels(pins, self.architecture, version, self.work / "wheels"):
            unpack_wheel(wheel, site)
            found[wheel.name] = "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()
        (site / "scar.pth").write_bytes(PTH_CONTENT)
        return found

    def _check_interpreter(self, interpreter: Path) -> str:
        needs = elf_needs(interpreter)
        if needs.machine != MACHINES[self.architecture] or not needs.interpreter:
            raise UserError(f"{interpreter.name} from the {self.archive.architecture} "
                            f"packages is a {needs.machine} program, not {self.architecture}")
        return PurePosixPath(needs.interpreter).name

    def _libraries(self, binaries: list[Path], seeds: list[str]
                   ) -> tuple[dict[str, Path], set[str]]:
        """{soname: file} of every library the binaries need and the packages they come
        from, fetching packages until each is found."""
        while True:
            libraries, owners, missing = self._resolve(binaries)
            if not missing:
                return libraries, owners
            candidates = (self.archive.depends({*seeds, *owners})
                          | host_owners(missing)) - set(self.packages)
            if not candidates:
                raise UserError(f"no {self.archive.architecture} Debian package found for "
                                f"{', '.join(sorted(missing))}, needed by the "
                                f"{self.architecture} runtime")
            self._fetch(candidates)

    def _resolve(self, binaries: list[Path]) -> tuple[dict[str, Path], set[str], set[str]]:
        """The libraries found so far, the packages they come from, the sonames not found."""
        provided = self._provided()
        local = {path.name for path in binaries}  # a wheel's own libraries (its RUNPATH)
        libraries: dict[str, Path] = {}
        owners: set[str] = set()
        missing: set[str] = set()
        pending = list(binaries)
        while pending:
            needs = elf_needs(pending.pop())
            for soname in (*needs.needed, *([PurePosixPath(needs.interpreter).name]
                                            if needs.interpreter else [])):
                if soname in local or soname in libraries or soname in missing:
                    continue
                if soname not in provided:
                    missing.add(soname)
                    continue
                owner, path = provided[soname]
                libraries[soname] = path
                owners.add(owner)
                pending.append(path)
        return libraries, owners, missing

    def _provided(self) -> dict[str, tuple[str, Path]]:
        """{soname: (package, real file)} of the shared libraries in the packages so far."""
        triplet = TRIPLETS[self.archive.architecture]
        provided: dict[str, tuple[str, Path]] = {}
        for name in sorted(self.packages):
            root = self._root(name).resolve()
            for folder in (f"lib/{triplet}", f"usr/lib/{triplet}", "lib", "usr/lib"):
                if not (root / folder).is_dir():
                    continue
                for entry in sorted((root / folder).iterdir()):
                    real = entry.resolve()
                    if ".so" in entry.name and real.is_file() and real.is_relative_to(root):
                        provided.setdefault(entry.name, (name, real))
        return provided


def host_owners(sonames: Iterable[str]) -> set[str]:
    """The packages owning these libraries on this machine: Debian library packages have the
    same name on every architecture. Empty without dpkg-query (not a Debian machine)."""
    executable = shutil.which("dpkg-query")
    if executable is None:
        return set()
    triplet = TRIPLETS[ARCHITECTURES[host_architecture()]]
    patterns = [f"*/{triplet}/{soname}" for soname in sorted(sonames)]
    done = subprocess.run([executable, "-S", *patterns], capture_output=True, text=True,
                          check=False)
    owners = set()
    for line in done.stdout.splitlines():
        names, separator, _ = line.partition(": ")
        if separator and not line.startswith("diversion"):
            owners.update(name.strip().split(":")[0] for name in names.split(","))
    return owners
