"""Debian packages of another architecture, fetched with the machine's own apt-get and sources
but a private state and cache folder: the machine's apt state is never changed, and apt checks
the archive signatures itself. Package names only ever go to apt as arguments, never through a
shell."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scar_ci.errors import UserError

LISTS_MAX_AGE = 24 * 3600  # refresh the private package lists once a day
_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_URI_LINE = re.compile(r"^'[^']+' (\S+\.deb) \d+ \S+$")  # URI, file, size, hash
_DEPENDS_LINE = re.compile(r"^\s+\|?(?:Pre)?Depends: ([^<>\s]+)$")
_HOW_TO_PROVIDE = ("run scar-ci in the action's image (Debian), or give runtime_dirs a prepared "
                  "Python folder for this architecture")


@dataclass(frozen=True)
class DebianPackage:
    """A downloaded .deb: package name, version (from the archive's file name), file."""

    name: str
    version: str
    path: Path


def check_package_name(name: str) -> str:
    """`name` when it is a valid Debian package name (what apt may be asked for)."""
    if not _PACKAGE_NAME.fullmatch(name):
        raise UserError(f"{name!r} is not a Debian package name")
    return name


class DebianArchive:
    """The machine's apt sources for `architecture` (a Debian name: amd64, arm64), with the
    package lists and downloads kept under `folder`."""

    def __init__(self, folder: Path, architecture: str,
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self.folder, self.architecture, self.progress = folder, architecture, progress
        self.lists = folder / "state" / "lists"

    def _options(self) -> list[str]:
        state = self.folder / "state"
        return ["-o", f"Dir::State={state}", "-o", f"Dir::State::status={state / 'status'}",
                "-o", f"Dir::Cache={self.folder / 'cache'}",
                # a saved package cache makes each later call 0.2 s instead of 1 s (images
                # often turn it off in their apt configuration)
                "-o", "Dir::Cache::pkgcache=pkgcache.bin",
                "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
                "-o", f"APT::Architecture={self.architecture}",
                "-o", f"APT::Architectures={self.architecture}",
                # as root apt downloads as _apt, which cannot write to a private folder
                *(["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else [])]

    def _run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        executable = shutil.which(tool)
        if executable is None:
            raise UserError(f"{tool} is missing: the {self.architecture} runtime is "
                            "assembled from Debian packages with apt-get and dpkg-deb; "
                            + _HOW_TO_PROVIDE)
        done = subprocess.run([executable, *self._options(), *args], cwd=cwd,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            detail = [line for line in done.stderr.splitlines() if line.startswith("E:")]
            raise UserError(f"{tool} {args[0]} ({self.architecture}) failed: "
                            f"{'; '.join(detail) or done.stderr.strip()[-300:]}")
        return done.stdout

    def refresh(self) -> None:
        """Fetch the package lists when there are none or they are older than a day."""
        found = self.release_files()
        if found and time.time() - min(p.stat().st_mtime for p in found) < LISTS_MAX_AGE:
            return
        for folder in (self.lists / "partial", self.folder / "cache" / "archives" / "partial"):
            folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "state" / "status").touch()
        self.progress(f"updating the Debian package lists for {self.architecture} …")
        self._run("apt-get", "update")
        for path in self.release_files():
            path.touch()  # apt keeps the server's date; the age counts from this fetch

    def release_files(self) -> list[Path]:
        """The signed Release files of the lists: they name every package list's digest."""
        return sorted(self.lists.glob("*Release")) if self.lists.is_dir() else []

    def has_packages(self) -> bool:
        """Whether the sources gave any package list for the architecture."""
        return any(self.lists.glob(f"*binary-{self.architecture}_Packages*"))

    def index_digest(self) -> str:
        """sha256 hex over the Release files: equal digests, equal package lists."""
        hasher = hashlib.sha256()
        for path in self.release_files():
            hasher.update(path.name.encode() + b"\0" + path.read_bytes())
        return hasher.hexdigest()

    def depends(self, names: Iterable[str]) -> set[str]:
        """The packages `names` depend on (Depends, Pre-Depends, every alternative)."""
        wanted = sorted({check_package_name(name) for name in names})
        if not wanted:
            return set()
        out = self._run("apt-cache", "depends", "--no-recommends", "--no-suggests",
                        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                        *wanted)
        return {match.group(1).split(":")[0] for line in out.splitlines()
                if (match := _DEPENDS_LINE.match(line))}

    def download(self, names: Iterable[str], folder: Path) -> list[DebianPackage]:
        """Download the packages into `folder`; apt checks their hashes against the lists."""
        wanted = sorted({check_package_name(name) for name in names})
        listing = self._run("apt-get", "download", "--print-uris", *wanted)
        files = [match.group(1) for line in listing.splitlines()
                 if (match := _URI_LINE.match(line.strip()))]
        folder.mkdir(parents=True, exist_ok=True)
        self._run("apt-get", "download", *wanted, cwd=folder)
        packages = []
        for file in files:
            name, version, _ = file.removesuffix(".deb").split("_")
            packages.append(DebianPackage(name, version.replace("%3a", ":"), folder / file))
        return packages


def extract(package: DebianPackage, root: Path) -> None:
    """Unpack the package's folders, files and links under `root`. Links that lead out of
    `root` (e.g. /usr/lib/python3.X/sitecustomize.py -> /etc/...) and device files are
    left out, so nothing under `root` points at this machine's own files."""
    executable = shutil.which("dpkg-deb")
    if executable is None:
        raise UserError(f"dpkg-deb is missing: it unpacks Debian packages; {_HOW_TO_PROVIDE}")
    root.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen([executable, "--fsys-tarfile", str(package.path)],
                          stdout=subprocess.PIPE) as unpacking:
        if unpacking.stdout is None:
            raise RuntimeError("dpkg-deb was started without an output pipe")
        with tarfile.open(fileobj=unpacking.stdout, mode="r|") as tar:
            for member in tar:
                _extract_member(tar, member, root)
    if unpacking.returncode != 0:
        raise UserError(f"dpkg-deb could not unpack {package.path.name}")


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not name.parts or name.parts == (".",):
        return
    target = root.joinpath(*name.parts)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
    elif member.isfile():
        source = tar.extractfile(member)
        if source is None:
            raise UserError(f"{member.name}: a file in a Debian package that cannot be read")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read())
        target.chmod(member.mode & 0o755)
    elif member.issym() or member.islnk():
        link = PurePosixPath(member.linkname)
        resolved = PurePosixPath(os.path.normpath(
            link if member.islnk() else name.parent / link))
        if link.is_absolute() or resolved.parts[:1] == ("..",):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if member.issym():
            target.symlink_to(member.linkname)
        elif root.joinpath(*resolved.parts).is_file():  # a hard link names an earlier member
            shutil.copyfile(root.joinpath(*resolved.parts), target)
