"""The action's image built offline from this repository's Dockerfile with podman, and run the
way the Actions runner runs a Docker action.

- `standin_base`: the Dockerfile's base (`python:3.12-slim`, unreachable here) replaced by a
  root file system made from Debian's packages with mmdebstrap, with what the Dockerfile relies
  on (`python` on PATH with venv and pip, CA certificates, tar); cached by what it installs.
- `fake_engines`: a tarball shaped like udocker's engines (this machine's Fakechroot and
  patchelf), and its git blob id, for the build argument that checks it.
- `serving_file`: a local HTTP server for it (the engines' URL is a build argument).
- `RunnerStep`: the runner's `docker run` for a Docker action: --workdir /github/workspace, the
  workspace and the _temp/_github_home, _github_workflow and _runner_file_commands mounts, the
  event file, file-command files, INPUT_* and GITHUB_* passed as `-e NAME` (values from the
  runner's environment, hyphens kept in INPUT_ names).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from scar_ci.cache import cache_dir, exclusive
from scar_ci.local.engines import machine_engines
from scar_testbed.actions_runner import EVENTS, ROOT
from scar_testbed.http_stub import serving
from scar_testbed.podman import Podman

SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
DPKG_OPTIONS = tuple(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale"))
# What podman needs here to run a container (MACHINE-NOTES: no CAP_SYS_RESOURCE, so limits at
# or under the machine's) and to let pip inside the build verify TLS as this machine does.
TEST_ENGINES_NOTE = b"test engines: this machine's fakechroot and patchelf\n"
RUN_LIMITS = ("--ulimit", "nofile=1024:20000", "--ulimit", "nproc=4096:4096")
BUILD_MOUNTS = tuple(
    f"--volume={path}:{path}:ro" for path in ("/etc/ssl/certs/ca-certificates.crt",
                                              "/etc/pip.conf") if Path(path).exists())


def standin_base(podman: Podman) -> str:
    """The stand-in base image's name in `podman`'s storage, its root file system made once
    per content into the scar-ci cache."""
    key = hashlib.sha256(json.dumps([SUITE, BASE_PACKAGES, DPKG_OPTIONS]).encode()
                         ).hexdigest()[:16]
    tarball = cache_dir() / f"action-base-{key}.tar"
    with exclusive(tarball.with_suffix(".lock")):  # test workers may want it at once
        if not tarball.is_file():
            if not shutil.which("mmdebstrap"):
                raise RuntimeError("mmdebstrap is not installed: bash scripts/setup-system.sh")
            partial_tar = tarball.with_suffix(".part")
            # without --format, mmdebstrap made a folder of the .part name: remove such leftovers
            for left in (tarball, partial_tar):
                shutil.rmtree(left, ignore_errors=True)
            subprocess.run(["mmdebstrap", "--format=tar", "--variant=minbase",
                            f"--include={','.join(BASE_PACKAGES)}", *DPKG_OPTIONS, SUITE,
                            str(partial_tar)], check=True, capture_output=True, timeout=600)
            partial_tar.replace(tarball)
    name = f"localhost/scar-ci-action-base:{key}"
    if podman.run("image", "exists", name, check=False).returncode != 0:
        podman.run("import", "--change", "CMD=/bin/bash", str(tarball), name)
    return name


def fake_engines(folder: Path) -> tuple[Path, str]:
    """A tarball laid out like udocker's engines (one top folder with bin/ and lib/) and its
    git blob id. It holds this machine's Fakechroot and patchelf (local mode's engine folder),
    so the functions the image deploys really run in F1 in the executor's sandbox."""
    path = folder / "udocker-englib-test.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(machine_engines(), arcname="udocker_dir")
        for name, data in (("udocker_dir/bin/README", TEST_ENGINES_NOTE),
                           ("udocker_dir/lib/README", b"test engines\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = path.read_bytes()
    return path, hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324


@contextmanager
def serving_file(path: Path) -> Iterator[str]:
    """The URL of `path` on a local HTTP server (its folder served), while it runs."""
    handler = partial(_QuietFiles, directory=str(path.parent))
    with serving(handler) as url:  # type: ignore[arg-type]
        yield f"{url}/{path.name}"


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


def build_action_image(podman: Podman, tag: str, base: str, engines_url: str,
                       engines_blob: str, *, check: bool = True, target: str = ""
                       ) -> subprocess.CompletedProcess[str]:
    """`podman build` of this repository's Dockerfile (up to stage `target`, else all) with
    the base and engines substituted."""
    return podman.run("build", "--runtime", "/usr/bin/runc", "--network", "host",
                      "--pull=never", *(("--target", target) if target else ()),
                      *BUILD_MOUNTS, "--build-arg", f"PYTHON_IMAGE={base}",
                      "--build-arg", f"UDOCKER_ENGINES_URL={engines_url}",
                      "--build-arg", f"UDOCKER_ENGINES_BLOB={engines_blob}",
                      "--tag", tag, str(ROOT), timeout=1500, check=check)


@dataclass
class RunnerStep:
    """One Docker-action step as the runner lays it out under its _temp folder."""

    temp: Path
    workspace: Path
    env: dict[str, str] = field(default_factory=dict)  # what `-e NAME` takes the values from

    @classmethod
    def prepare(cls, temp: Path, workspace: Path, event: Path, inputs: dict[str, str],
                github: dict[str, str]) -> RunnerStep:
        """Copy the event to _github_workflow/event.json, make fresh file-command files, and
        set INPUT_* and GITHUB_* with the container's paths."""
        for sub in ("_github_home", "_github_workflow", "_runner_file_commands"):
            (temp / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(event, temp / "_github_workflow" / "event.json")
        files = {}
        for variable, stem in (("GITHUB_OUTPUT", "set_output"), ("GITHUB_ENV", "set_env"),
                               ("GITHUB_PATH", "add_path"), ("GITHUB_STATE", "save_state"),
                               ("GITHUB_STEP_SUMMARY", "step_summary")):
            name = f"{stem}_{uuid.uuid4()}"
            (temp / "_runner_file_commands" / name).write_text("")
            files[variable] = f"/github/file_commands/{name}"
        table = json.loads((EVENTS / "runner_env.json").read_text(encoding="utf-8"))
        env = {**inputs, **table[event.name], "HOME": "/github/home",
               "GITHUB_EVENT_PATH": "/github/workflow/event.json",
               "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_ACTIONS": "true", "CI": "true",
               "GITHUB_RUN_ID": "1234567890", "GITHUB_SERVER_URL": "https://github.com",
               **files, **github}
        return cls(temp, workspace, env)

    def file(self, variable: str) -> Path:
        """The host side of a file-command file (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, ...)."""
        return self.temp / "_runner_file_commands" / Path(self.env[variable]).name

    def run(self, podman: Podman, image: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`docker run` as the runner writes it (with podman's limits and the host network,
        where LocalStack and the fake GitHub API listen)."""
        names = [arg for name in sorted(self.env) for arg in ("-e", name)]
        mounts = [f"--volume={self.temp / '_github_home'}:/github/home",
                  f"--volume={self.temp / '_github_workflow'}:/github/workflow",
                  f"--volume={self.temp / '_runner_file_commands'}:/github/file_commands",
                  f"--volume={self.workspace}:/github/workspace"]
        return podman.run("run", "--rm", "--runtime", "/usr/bin/runc", *RUN_LIMITS,
                          "--network", "host", "--workdir", "/github/workspace", *names,
                          *mounts, image, *args, env={**os.environ, **self.env}, timeout=600,
                          check=False)
