"""Local mode's Batch jobs: what moto's Batch runs through Docker, run under udocker (stdlib only).

moto's Batch (local mode's, `batch_moto.py`) moves a job through its states and runs each
container through a Docker client; `JobContainers` stands in for that client. Each container is
the job image fetched into the image cache of the Lambda side (`executor/images.py`: once per
image, a P1 udocker container) and run by `udocker run` inside the sandbox the execution
environments get (`executor/sandbox.py`): as the sandbox's non-root user, everything read-only
but a /tmp of its own, with the job's environment (the job definition's, the submit's overrides)
over local mode's endpoints and test credentials ($SCAR_CI_BATCH_JOB_ENV). moto reads the
container's output back as the job's log and its exit code as the job's outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scar_ci.local.executor import images

JOB_ENV_VARIABLE = "SCAR_CI_BATCH_JOB_ENV"  # JSON: what every job's environment gets
RUNTIME_DIR_VARIABLE = "SCAR_CI_RUNTIME_DIR"
SANDBOX = Path(images.__file__).with_name("sandbox.py")
JOB_TMP_MB = 10240  # a Batch container has its instance's disk, not Lambda's 512 MB
HOST_ADDRESS = "127.0.0.1"  # what a multi-node job's nodes see as the main node's address


def runs_jobs() -> bool:
    """Whether this moto runs jobs (local mode sets the job environment), else moto's Docker."""
    return JOB_ENV_VARIABLE in os.environ


def job_containers(job: Any) -> JobContainers:
    """The Docker client of moto's `job` (one per job: it counts a multi-node job's nodes)."""
    if not isinstance(getattr(job, "_local_containers", None), JobContainers):
        job._local_containers = JobContainers(job)
    return job._local_containers


class JobContainers:
    """The `containers` of the Docker client moto's Batch asks for (`run` only)."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.containers = self
        self.nodes_started = 0

    def run(self, *, image: str, command: list[str], environment: dict[str, str], name: str,
            **_docker_options: Any) -> JobContainer:
        """Start `image` as a job container; one that cannot start exits 1 with the reason as
        its log (moto would fail the job with none)."""
        node = self._node()  # counted first: the next node's index whatever happens here
        work_dir = Path(tempfile.mkdtemp(prefix=f"{_safe(name)}-", dir=_jobs_dir()))
        work_dir.chmod(0o755)  # the sandbox user reaches its log folder through it
        try:
            process = self._start(image, command, {**environment, **node}, work_dir)
        except (images.ImageError, ValueError, OSError) as error:
            return JobContainer.failed(work_dir, f"scar-local batch: {error}")
        return JobContainer(process, work_dir)

    def _start(self, image: str, command: list[str], environment: dict[str, str],
               work_dir: Path) -> subprocess.Popen[bytes]:
        """`udocker run` of the job image (from the image cache) in the sandbox, in its own
        session, its output piped (moto's default command when the job definition has none
        is left out: the image's own Cmd runs, as on Batch)."""
        python = os.environ.get("SCAR_CI_FUNCTION_PYTHON", "")
        defaults = json.loads(os.environ.get("SCAR_CI_FUNCTION_DEFAULTS") or "{}")
        udocker_env = images.udocker_env(defaults)
        log_dir = work_dir / "logs"
        log_dir.mkdir()
        prepared = images.prepare(image, "x86_64", python, udocker_env)
        entry = [*(prepared.config.get("Entrypoint") or []),
                 *(command if self._has_command() else prepared.config.get("Cmd") or [])]
        env = {**json.loads(os.environ[JOB_ENV_VARIABLE]), **environment,
               "AWS_BATCH_JOB_ID": self.job.job_id, "AWS_BATCH_JQ_NAME": self.job.job_queue.name}
        udocker_env.update(UDOCKER_TMP="/tmp", PROOT_TMP_DIR="/tmp")  # noqa: S108 (the sandbox's)
        spec = images.run_spec(prepared, entry, None, env, Path("/tmp"), udocker_env, python)  # noqa: S108
        uid, gid = images.sandbox_ids()
        spec["run"] += ["--hostauth", f"--user={uid}:{gid}"]  # the sandbox user, as on Lambda
        sandbox = work_dir / "sandbox.json"
        sandbox.write_text(json.dumps({
            "uid": uid, "gid": gid, "tmp_mb": JOB_TMP_MB,
            "task_dir": None, "opt_dir": None, "work_dir": str(work_dir),
            "log_dir": str(log_dir), "deny_ptrace": False,  # udocker's P1 (proot) needs it
            "reachable": [*images.reachable(python, defaults), str(log_dir)]}))
        return subprocess.Popen(
            [python, str(SANDBOX), str(sandbox), "--", *spec["run"], *spec["entry"]],
            env={**udocker_env, "LANG": "C.UTF-8"}, cwd=work_dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def _node(self) -> dict[str, str]:
        """What Batch tells each node of a multi-node job (moto starts them in order)."""
        nodes = self.job.job_definition.node_properties
        index, self.nodes_started = self.nodes_started, self.nodes_started + 1
        if not nodes:
            return {}
        return {"AWS_BATCH_JOB_NODE_INDEX": str(index),
                "AWS_BATCH_JOB_NUM_NODES": str(nodes["numNodes"]),
                "AWS_BATCH_JOB_MAIN_NODE_INDEX": str(nodes.get("mainNode", 0))}

    def _has_command(self) -> bool:
        """Whether the submit's overrides or the job definition name a command (else moto
        passes its own default)."""
        definition = self.job.job_definition
        if definition.container_properties:
            return "command" in {**definition.container_properties,
                                 **self.job.container_overrides}
        ranges = (definition.node_properties or {}).get("nodeRangeProperties", ())
        return any("command" in r.get("container", {}) for r in ranges)


class JobContainer:
    """One running job container as moto's Batch reads a Docker container: `status` after
    `reload()`, `logs()` with timestamps, `wait()`, `kill()`, `remove()`."""

    def __init__(self, process: subprocess.Popen[bytes] | None, work_dir: Path,
                 error: str = "") -> None:
        self.process, self.work_dir = process, work_dir
        self.attrs = {"NetworkSettings": {"IPAddress": HOST_ADDRESS, "Networks": {
            "bridge": {"IPAddress": HOST_ADDRESS}}}}
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": [error] if error else []}
        self.status = "created"
        self.readers = [threading.Thread(target=self._read, args=(stream, getattr(process, stream)),
                                         daemon=True) for stream in self.lines if process]
        for reader in self.readers:
            reader.start()

    @classmethod
    def failed(cls, work_dir: Path, error: str) -> JobContainer:
        """A container that could not start: exit code 1, the reason as its log."""
        return cls(None, work_dir, error)

    def _read(self, stream: str, pipe: Any) -> None:
        """Keep each line of `pipe` as the Docker log line of `stream`, timestamped."""
        for raw in pipe:
            self.lines[stream].append(f"{_now()} {raw.decode(errors='replace').rstrip()}")

    def reload(self) -> None:
        self.status = "running" if self.process and self.process.poll() is None else "exited"

    def logs(self, *, stdout: bool = True, stderr: bool = True, **_options: Any) -> bytes:
        for reader in self.readers:
            reader.join(timeout=5)
        lines = (self.lines["stdout"] if stdout else []) + (self.lines["stderr"] if stderr else [])
        if not self.process:  # the reason it could not start, timestamped now
            lines = [f"{_now()} {line}" for line in lines]
        return "\n".join(lines).encode()

    def wait(self) -> dict[str, int]:
        return {"StatusCode": self.process.wait() if self.process else 1}

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def remove(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)


def _now() -> str:
    """A Docker log line's timestamp."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _jobs_dir() -> Path:
    """Where the job containers' work folders are: beside the execution environments'."""
    folder = jobs_dir(Path(os.environ.get(RUNTIME_DIR_VARIABLE) or tempfile.gettempdir()))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def jobs_dir(runtime_dir: Path) -> Path:
    """The job containers' work folders in an execution environments' folder (what stopping
    local mode removes: jobs it killed leave theirs)."""
    return runtime_dir / "batch-jobs"


def _safe(name: str) -> str:
    """`name` as a file name's part: letters, digits, - and _ only, 80 at most."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:80]

