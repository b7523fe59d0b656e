"""Container-image functions in the scar-local executor: the image cache, udocker and what its
sandbox keeps reachable (LocalStack side, stdlib only; local mode's Batch jobs use it too).

An image is fetched once per ImageUri (pinned by digest, as scar-ci deploys it) and
architecture by scar-ci's puller ($SCAR_CI_IMAGE_PULL: scar_ci/local/image_pull.py on
scar-ci's Python), loaded into one udocker repository under $SCAR_CI_IMAGE_DIR, and made into
one P1 container that every execution environment of every function using that image runs
(each with its own /tmp). A `.json` file per image, written last, marks it ready and keeps its
config (Entrypoint, Cmd, WorkingDir, Env).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PULL_VARIABLE = "SCAR_CI_IMAGE_PULL"
IMAGE_DIR_VARIABLE = "SCAR_CI_IMAGE_DIR"
PROOT_VARIABLE = "UDOCKER_USE_PROOT_EXECUTABLE"
EXECMODE = "P1"
UDOCKER_MAIN = "import sys; from udocker.maincmd import main; sys.argv[0] = 'udocker'; main()"
SANDBOX_UID_VARIABLE = "SCAR_CI_SANDBOX_UID"
SANDBOX_UID = 993  # sbx_user1051's uid and gid on Lambda
SANDBOX_GID = 990
# The executor's own variables: not for the function.
_INTERNAL = ("LOCALSTACK_RUNTIME_ID", "LOCALSTACK_RUNTIME_ENDPOINT")


class ImageError(Exception):
    """The image cannot be fetched or prepared; the message says why."""


@dataclass(frozen=True)
class PreparedImage:
    """A cached image: its udocker container and its config."""

    container: str
    config: dict

    def entry(self, entrypoint: list[str] | None, command: list[str] | None) -> list[str]:
        """What runs: the function's ImageConfig overrides, else the image's Entrypoint + Cmd."""
        return [*(entrypoint or self.config.get("Entrypoint") or []),
                *(command or self.config.get("Cmd") or [])]


def image_dir() -> Path:
    """Where images are cached ($SCAR_CI_IMAGE_DIR, set by `scar-ci local up`)."""
    return Path(os.environ.get(IMAGE_DIR_VARIABLE) or Path(tempfile.gettempdir(),
                                                           "scar-local-images"))


def udocker_env(defaults: dict[str, str]) -> dict[str, str]:
    """udocker's environment: the cache's repository, no engine download, P1 through the
    proot wrapper of local mode's defaults."""
    root = image_dir()
    tmp = root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "UDOCKER_DIR": str(root / "udocker"),
        "UDOCKER_TARBALL": "",
        "UDOCKER_DEFAULT_EXECUTION_MODE": EXECMODE,
        "UDOCKER_TMP": str(tmp),
        "PROOT_TMP_DIR": str(tmp),
    }
    if defaults.get(PROOT_VARIABLE):
        env[PROOT_VARIABLE] = defaults[PROOT_VARIABLE]
    return env


def sandbox_ids() -> tuple[int, int]:
    """The sandbox user: $SCAR_CI_SANDBOX_UID (its gid too), else Lambda's 993/990."""
    if value := os.environ.get(SANDBOX_UID_VARIABLE):
        if not value.isdigit() or int(value) == 0:
            raise ValueError(f"{SANDBOX_UID_VARIABLE}={value!r}: a non-root uid")
        return int(value), int(value)
    return SANDBOX_UID, SANDBOX_GID


def reachable(python: str, defaults: dict[str, str]) -> list[str]:
    """What a sandbox that runs udocker on `python` keeps reachable: the Python's venv and
    installation, the image cache, the folders of the tools local mode's defaults name (the
    proot wrapper)."""
    return sorted({str(Path(python).parent.parent), str(Path(python).resolve().parent.parent),
                   str(image_dir()),
                   *(str(Path(v).parent) for v in defaults.values() if v.startswith("/"))})


def udocker_command(python: str) -> list[str]:
    """udocker of the function's Python (local mode checks that it has udocker)."""
    command = [python, "-c", UDOCKER_MAIN, "--quiet"]
    return [*command, "--allow-root"] if os.geteuid() == 0 else command


def prepare(image_uri: str, architecture: str, python: str, env: dict[str, str]
            ) -> PreparedImage:
    """The image in the cache, fetched and made into a container the first time."""
    key = hashlib.sha256(f"{image_uri}\0{architecture}".encode()).hexdigest()[:32]
    root = image_dir()
    marker = root / f"{key}.json"
    root.mkdir(parents=True, exist_ok=True)
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch at a time: udocker's repository is shared
        if not marker.exists():
            _fetch(image_uri, architecture, key, python, env, marker)
    return PreparedImage(**json.loads(marker.read_text()))


def _fetch(image_uri: str, architecture: str, key: str, python: str, env: dict[str, str],
           marker: Path) -> None:
    container = f"scar-{key}"
    with tempfile.TemporaryDirectory(dir=marker.parent) as folder:
        archive = Path(folder, "image.tar")
        pull = json.loads(os.environ.get(PULL_VARIABLE) or "[]")
        if not pull:
            raise ImageError(f"{PULL_VARIABLE} is not set: start LocalStack with "
                             "`scar-ci local up`, which sets it")
        done = subprocess.run([*pull, image_uri, architecture, str(archive)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ImageError(f"cannot pull {image_uri}: "
                             f"{done.stderr.strip() or done.stdout.strip()}")
        config = json.loads(done.stdout)
        udocker = udocker_command(python)
        name = f"scar-local/{key}"
        tag = f"{name}:latest"
        for leftover in (["rm", "-f", container], ["rmi", "-f", tag]):  # of a fetch that failed
            with contextlib.suppress(ImageError):
                _run([*udocker, *leftover], env, "removing what a failed fetch left")
        _run([*udocker, "load", "-i", str(archive), name], env, f"loading {image_uri}")
        _run([*udocker, "create", f"--name={container}", tag], env, f"creating from {image_uri}")
        _run([*udocker, "setup", f"--execmode={EXECMODE}", container], env, "setting P1 mode")
    marker.write_text(json.dumps({"container": container, "config": config}))


def _run(command: list[str], env: dict[str, str], doing: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ImageError(f"{doing} with udocker failed: "
                         f"{done.stderr.strip() or done.stdout.strip() or done.returncode}")


def run_spec(prepared: PreparedImage, entry: list[str], working_dir: str | None,
             lambda_env: dict[str, str], tmp_dir: Path, env: dict[str, str],
             python: str) -> dict:
    """What init.py's ImageRuntime runs: `udocker run` of the image's container with the
    Lambda environment (over the image's Env), /tmp of its own, the entry as given."""
    options = ["run", "--nosysdirs", "-v", "/dev", "-v", "/proc", f"--volume={tmp_dir}:/tmp"]
    if workdir := working_dir or prepared.config.get("WorkingDir"):
        options.append(f"--workdir={workdir}")
    options += [f"--env={key}={value}" for key, value in lambda_env.items()
                if key not in _INTERNAL]
    return {"run": [*udocker_command(python), *options],
            "entry": ["--entrypoint=", prepared.container, *entry], "env": env}
