"""udocker inside the sandbox: image pulled or loaded once, container created once, runs per job.

In the Fakechroot modes (F1-F4, Lambda's: ptrace is denied there) the host folders a job sees
are named in FAKECHROOT_EXCLUDE_PATH rather than bound with -v: udocker turns folder volumes
into FAKECHROOT_DIR_MAP, which only udocker's own libfakechroot honours, while every
libfakechroot (Debian's too) honours the exclusion, the same thing for a folder bound at its
own path. Fakechroot needs glibc: a musl (Alpine) image is refused with what to do.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from scar_ci.supervisor.config import Settings
from scar_ci.supervisor.errors import ContainerError

SETUP_TIMEOUT = 600


class Udocker:
    """The udocker command line, run by this Python with udocker's package on its path."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        spec = importlib.util.find_spec("udocker")
        if spec is None or spec.origin is None:
            raise ContainerError("udocker is not importable: the supervisor layer is incomplete; "
                                 "redeploy it with scar-ci")
        self._package_parent = str(Path(spec.origin).parent.parent)
        root = ["--allow-root"] if os.geteuid() == 0 else []
        self.base = [sys.executable, "-m", "udocker.maincmd", *root]

    def environment(self) -> dict[str, str]:
        """The sandbox's variables plus what makes udocker work offline under /tmp."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (self._package_parent, env.get("PYTHONPATH", "")) if p
        )
        env["UDOCKER_DIR"] = str(self.settings.udocker_dir)
        env["UDOCKER_TMP"] = str(self.settings.tmp_dir)
        env.setdefault("UDOCKER_TARBALL", "")  # never download engines from the network
        env.setdefault("HOME", str(self.settings.tmp_dir))
        engine = self.settings.engine_dir
        if engine is not None:
            env.setdefault("UDOCKER_BIN", str(engine / "bin"))
            env.setdefault("UDOCKER_LIB", str(engine / "lib"))
        return env

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one udocker command to completion; ContainerError with its output if it fails."""
        proc = subprocess.run(
            [*self.base, *args], env=self.environment(), capture_output=True, text=True,
            timeout=SETUP_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0 and not _already_exists(proc):
            raise ContainerError(
                f"udocker {args[0]} failed (exit {proc.returncode}): "
                f"{(proc.stdout + proc.stderr).strip()[-2000:]}"
            )
        return proc

    def run_argv(self, container: str, volumes: Sequence[Path], env_file: Path,
                 entrypoint: str | None, args: Sequence[str]) -> list[str]:
        """`udocker run` for one job: only argv, never a shell string."""
        argv = [*self.base, "--quiet", "run", "--nosysdirs", f"--env-file={env_file}"]
        shared = [str(p) for p in (*volumes, Path("/dev"), Path("/proc"), *_host_name_files())]
        if self.settings.exec_mode.startswith("F"):
            argv.append(f"--env=FAKECHROOT_EXCLUDE_PATH={':'.join(shared)}")
        else:
            for host in shared:
                argv += ["-v", host]
        if entrypoint is not None:
            argv.append(f"--entrypoint={entrypoint}")
        return [*argv, container, *args]


def container_name(image: str, image_file: Path | None, registry: str) -> str:
    """The container's name in UDOCKER_DIR: one per image source."""
    source = f"file:{image_file}" if image_file else f"{registry}|{image}"
    return "scar-" + hashlib.sha256(source.encode()).hexdigest()[:16]


def _host_name_files() -> list[Path]:
    return [p for p in (Path("/etc/hosts"), Path("/etc/resolv.conf")) if p.exists()]


def _already_exists(proc: subprocess.CompletedProcess[str]) -> bool:
    return "already exist" in proc.stdout + proc.stderr


class ContainerCache:
    """One container per image source in UDOCKER_DIR; warm invocations find it ready."""

    def __init__(self, udocker: Udocker) -> None:
        self.udocker = udocker

    def container_for(self, image: str, image_file: Path | None, registry: str) -> str:
        """The name of a ready container for the image, pulling or loading it the first time.

        A container counts as ready only once its set-up has finished (a marker written last):
        a cold start killed by the function's timeout half-way through `create` or `setup`
        leaves one behind, which the next invocation removes and makes again."""
        name = container_name(image, image_file, registry)
        ready = self.udocker.settings.udocker_dir / "scar-ready" / name
        if ready.exists():
            return name
        self._discard(name)
        if image_file is not None:
            image = self._load(image_file, image)
        else:
            self.udocker.command("pull", *([f"--registry={registry}"] if registry else []), image)
        self.udocker.command("create", f"--name={name}", image)
        settings = self.udocker.settings
        if settings.exec_mode.startswith("F") and _is_musl(settings.udocker_dir, name):
            self.udocker.command("rm", name)
            raise ContainerError(
                f"{image or image_file}: a musl (Alpine) image, which udocker's Fakechroot mode "
                f"({settings.exec_mode}, the one Lambda allows) cannot run: use a glibc-based "
                "image (Debian, Ubuntu...), or the image runtime (runtime: image)")
        self.udocker.command("setup", f"--execmode={settings.exec_mode}", name)
        ready.parent.mkdir(parents=True, exist_ok=True)
        ready.touch()
        return name

    def _discard(self, name: str) -> None:
        """Remove what an interrupted cold start left under the container's name."""
        link = self.udocker.settings.udocker_dir / "containers" / name
        if not (link.exists() or link.is_symlink()):
            return
        try:
            self.udocker.command("rm", name)
        except ContainerError:  # too broken for udocker to recognise: remove its folders
            target = link.resolve()
            if link.is_symlink():
                link.unlink()
            shutil.rmtree(target, ignore_errors=True)

    def _load(self, image_file: Path, image: str) -> str:
        proc = self.udocker.command("load", "-i", str(image_file))
        names = _loaded_names(proc.stdout)
        if image:
            return image
        if not names:
            raise ContainerError(f"udocker load -i {image_file.name} named no image; save it with "
                                 "`docker save REPO:TAG` (a tagged name with a '/')")
        return names[0]


def _is_musl(udocker_dir: Path, container: str) -> bool:
    """Whether the container's root has musl's loader and no glibc one."""
    root = udocker_dir / "containers" / container / "ROOT"
    loaders = [p.name for folder in ("lib", "usr/lib", "lib64") if (root / folder).is_dir()
               for p in (root / folder).glob("ld-*")]
    return any(n.startswith("ld-musl") for n in loaders) and not any(
        n.startswith("ld-linux") for n in loaders)


def _loaded_names(output: str) -> list[str]:
    """Image names from `udocker load`: bare `repo:tag` lines, or 'already exist REPO TAG'."""
    names = []
    for line in output.splitlines():
        words = line.split()
        if "already exist" in line and len(words) >= 2:
            names.append(f"{words[-2]}:{words[-1]}")
        elif len(words) == 1 and not line.startswith(("Info:", "Error:", "Warning:")):
            names.append(words[0])
    return names


def container_environment(variables: Mapping[str, str], env_file: Path) -> None:
    """Write the container's variables to an --env-file readable only by the supervisor."""
    lines = []
    for name, value in variables.items():
        if "\n" in value or "\r" in value or "\x00" in value:
            raise ContainerError(f"variable {name}: values cannot contain line breaks")
        lines.append(f"{name}={value}\n")
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
