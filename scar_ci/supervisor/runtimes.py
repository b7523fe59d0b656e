"""The two ways a job's command runs: in a udocker container, or directly in the image runtime."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from scar_ci.supervisor.command import Command, direct_invocation, udocker_invocation
from scar_ci.supervisor.config import FunctionConfig, Settings
from scar_ci.supervisor.errors import ConfigError
from scar_ci.supervisor.process import RunResult, run_streaming
from scar_ci.supervisor.storage import Storage
from scar_ci.supervisor.udocker import ContainerCache, Udocker, container_environment


class Runtime(Protocol):
    """Prepares once per sandbox, then runs one command per job."""

    def prepare(self) -> None:
        """Get ready to run (image pulled, container created); idempotent."""

    def run(self, command: Command, variables: Mapping[str, str], volumes: Sequence[Path],
            timeout: float, work_dir: Path) -> RunResult:
        """Run `command` with the container's `variables`, seeing `volumes`."""


class UdockerRuntime:
    """SCAR's zip runtime: the image runs under udocker; its container is reused while warm."""

    def __init__(self, config: FunctionConfig, settings: Settings, storage: Storage) -> None:
        if not (config.image or config.image_file):
            raise ConfigError("container.image or container.image_file is required")
        self.config, self.settings, self.storage = config, settings, storage
        self.udocker = Udocker(settings)
        self.cache = ContainerCache(self.udocker)
        self.container = ""

    def prepare(self) -> None:
        """Pull or load the image and create the container, the first time only."""
        if not self.container:
            self.container = self.cache.container_for(
                self.config.image, self._image_file(), self.config.registry
            )

    def _image_file(self) -> Path | None:
        source = self.config.image_file
        if not source:
            return None
        if source.startswith("s3://"):
            digest = hashlib.sha256(source.encode()).hexdigest()[:16]
            folder = self.settings.tmp_dir / "scar-images"
            folder.mkdir(parents=True, exist_ok=True)
            return self.storage.fetch(source, folder / f"{digest}.tar")
        path = Path(source) if Path(source).is_absolute() else self._task_root() / source
        if not path.is_file():
            raise ConfigError(f"container.image_file {source!r} is not in the function package "
                              f"({path}); redeploy the function")
        return path

    def _task_root(self) -> Path:
        return Path(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task")

    def run(self, command: Command, variables: Mapping[str, str], volumes: Sequence[Path],
            timeout: float, work_dir: Path) -> RunResult:
        """`udocker run` with the variables in an --env-file outside the mounted folders."""
        self.prepare()
        env_file = work_dir / "container.env"
        container_environment(variables, env_file)
        entrypoint, args = udocker_invocation(command)
        argv = self.udocker.run_argv(self.container, volumes, env_file, entrypoint, args)
        scratch = {"UDOCKER_TMP": str(work_dir), "PROOT_TMP_DIR": str(work_dir)}  # cleaned per job
        return run_streaming(argv, {**self.udocker.environment(), **scratch}, timeout)


class ImageRuntime:
    """Container-image runtime: the function is the container, so the command runs directly."""

    def prepare(self) -> None:
        """Nothing to prepare."""

    def run(self, command: Command, variables: Mapping[str, str], volumes: Sequence[Path],
            timeout: float, work_dir: Path) -> RunResult:
        """Run with the sandbox's environment plus the container's variables."""
        return run_streaming(direct_invocation(command), {**os.environ, **variables}, timeout,
                             cwd=work_dir)


def make_runtime(config: FunctionConfig, settings: Settings, storage: Storage) -> Runtime:
    """The runtime the configuration names."""
    if config.runtime == "image":
        return ImageRuntime()
    return UdockerRuntime(config, settings, storage)
