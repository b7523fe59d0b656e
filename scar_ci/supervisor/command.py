"""What runs for a job: request script > command arguments > init_script > image entrypoint."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from scar_ci.supervisor.config import FunctionConfig
from scar_ci.supervisor.errors import ConfigError
from scar_ci.supervisor.events import Job

SHELL = "/bin/sh"


@dataclass(frozen=True)
class Command:
    """A script to run with /bin/sh, or arguments for the image (both empty: its entrypoint)."""

    origin: str  # "request script" | "command arguments" | "init_script" | "entrypoint"
    script: Path | None = None
    args: tuple[str, ...] = ()


def choose_command(job: Job, config: FunctionConfig, run_dir: Path) -> Command:
    """Pick by precedence; scripts are copied into `run_dir`, which the container sees."""
    if job.script is not None:
        path = run_dir / "script.sh"
        path.write_bytes(job.script)
        path.chmod(0o700)
        return Command("request script", script=path)
    if job.cmd_args:
        return Command("command arguments", args=tuple(job.cmd_args))
    if config.init_script is not None:
        if not config.init_script.is_file():
            raise ConfigError(f"init_script {config.init_script} is missing from the package; "
                              "redeploy the function")
        path = run_dir / "init_script.sh"
        shutil.copyfile(config.init_script, path)
        path.chmod(0o700)
        return Command("init_script", script=path)
    return Command("entrypoint")


def udocker_invocation(command: Command) -> tuple[str | None, list[str]]:
    """(--entrypoint value or None, arguments after the container name) for `udocker run`."""
    if command.script is not None:
        return SHELL, [str(command.script)]
    return None, list(command.args)


def direct_invocation(command: Command) -> list[str]:
    """argv in the container-image runtime, where the function is the container itself."""
    if command.script is not None:
        return [SHELL, str(command.script)]
    if command.args:
        return list(command.args)
    raise ConfigError("nothing to run: with runtime 'image' give an init_script, "
                      "or invoke with a script or command arguments")
