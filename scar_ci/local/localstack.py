"""The LocalStack process of local mode: start on 127.0.0.1, health, stop by PID (stdlib only).

A state folder holds `pid`, `port`, `localstack.log`, LocalStack's volume, the proot wrapper,
the execution environments' logs (`runtime/`), the image cache and local mode's ECR API and
registry (image_services); LocalStack runs in its own session so that stopping its process
group stops every function process it started.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scar_ci.local import batch_jobs, batch_setup, image_services, localstack_venv, ports, udocker
from scar_ci.local.errors import LocalError, PortTaken

HOST = "127.0.0.1"
START_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0
FUNCTION_PYTHON_VARIABLE = "SCAR_CI_FUNCTION_PYTHON"
DOCKER_HUB_VARIABLE = "UDOCKER_REGISTRY"  # udocker's Docker Hub URL
IMAGE_PULL = Path(__file__).with_name("image_pull.py")  # run as a script: not imported here
LOOPBACK_RUNTIME = Path(__file__).with_name("localstack_loopback.py")  # LocalStack's main
PORT_ATTEMPTS = 3  # starts with new ports after another program took one
BATCH_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_BATCH"
REGION = "us-east-1"
RUNTIME_DIR = "runtime"  # the execution environments' logs and the Batch jobs' work folders


@dataclass(frozen=True)
class Instance:
    """A running LocalStack."""

    pid: int
    port: int

    @property
    def url(self) -> str:
        """The endpoint for AWS_ENDPOINT_URL."""
        return f"http://{HOST}:{self.port}"


def running(state_dir: Path) -> Instance | None:
    """The LocalStack recorded in state_dir if its process is still alive."""
    try:
        pid = int((state_dir / "pid").read_text())
        port = int((state_dir / "port").read_text())
    except (OSError, ValueError):
        return None
    return Instance(pid, port) if _group_alive(pid) else None


def start(state_dir: Path, port: int = 0, function_python: str | None = None,
          ecr_endpoint: str = "", *, docker_hub_mirror: bool = False) -> Instance:
    """Start LocalStack (or find it already running) and wait until it is healthy.

    `port` 0 takes a free one; `function_python` (default $SCAR_CI_FUNCTION_PYTHON, else this
    Python) runs the functions and needs boto3 and udocker. Local mode's ECR API and registry
    (image_services) start beside it; `ecr_endpoint` names another ECR API whose token the
    executor pulls image functions' images with. `docker_hub_mirror` makes that registry the
    one udocker pulls Docker Hub names from (UDOCKER_REGISTRY in every function's defaults).
    Ports chosen here that another program takes before the services listen on them are
    chosen again (PORT_ATTEMPTS times).
    """
    if (instance := running(state_dir)) and healthy(instance.url):
        return instance
    stop(state_dir)
    python = function_python or os.environ.get(FUNCTION_PYTHON_VARIABLE) or sys.executable
    udocker.check_function_python(python)
    defaults = udocker.function_defaults(state_dir / "tools")
    if docker_hub_mirror and not shutil.which(image_services.REGISTRY_BINARY):
        raise LocalError(f"--docker-hub-mirror: {image_services.NO_REGISTRY}")
    venv = localstack_venv.setup()
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return _launch(state_dir, venv, _claim(port, extra=2), python, defaults,
                           ecr_endpoint, docker_hub_mirror)
        except PortTaken as taken:
            if (port and taken.port == port) or attempt == PORT_ATTEMPTS:
                raise LocalError(_in_use(taken.port)) from None


def _launch(state_dir: Path, venv: Path, ports: list[int], python: str,
            function_defaults: dict[str, str], ecr_endpoint: str, docker_hub_mirror: bool
            ) -> Instance:
    """LocalStack on `ports[0]`, moto's ECR API and Batch on `ports[1]` and, when installed,
    the registry on `ports[2]`, started and healthy, the functions' environment
    `function_defaults` and the endpoints; PortTaken when one of them could not listen on its
    port."""
    port, ecr_port, registry_port = ports
    defaults = dict(function_defaults)
    if docker_hub_mirror:
        defaults[DOCKER_HUB_VARIABLE] = f"http://{HOST}:{registry_port}"
    moto = f"http://{HOST}:{ecr_port}"  # ECR API and Batch
    defaults[BATCH_ENDPOINT_VARIABLE] = moto  # where functions submit jobs
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "localstack.log"
    env = {**_localstack_env(state_dir, port, python, defaults),
           **_image_env(state_dir, ecr_endpoint or moto)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "python"), "-P", str(LOOPBACK_RUNTIME)],
            env=env,
            cwd=state_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (state_dir / "pid").write_text(f"{process.pid}\n")
    (state_dir / "port").write_text(f"{port}\n")
    instance = Instance(process.pid, port)
    services = image_services.start(state_dir, venv, ecr_port, registry_port, docker_hub_mirror,
                                    {**env, **_job_env(f"http://{HOST}:{port}", moto)})
    abandoned = threading.Event()
    with ThreadPoolExecutor(1) as beside:  # moto's Batch gets ready while LocalStack starts
        batch = beside.submit(_batch_ready, services, state_dir, moto, abandoned)
        try:
            _until_healthy(process, instance, log, batch)
            batch.result()
        except LocalError:
            abandoned.set()
            stop(state_dir, grace_s=0)  # a start that failed has nothing to finish
            raise
    return instance


def _until_healthy(process: subprocess.Popen[bytes], instance: Instance, log: Path,
                   beside: Future[None]) -> None:
    """Wait for LocalStack's health check; PortTaken as soon as its log says another program
    has the port (it stays up without listening), LocalError when it ends or times out, and
    the error of what starts `beside` (the ECR API, Batch) as soon as that failed."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not healthy(instance.url):
        if beside.done():
            beside.result()
        text = log.read_text()
        if image_services.PORT_TAKEN in text.lower():
            raise PortTaken(instance.port)
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(text.splitlines()[-20:])
            raise LocalError(f"LocalStack did not become healthy:\n{tail}\nWhole log: {log}")
        time.sleep(0.2)


def _batch_ready(services: image_services.ImageServices, state_dir: Path, moto: str,
                 abandoned: threading.Event) -> None:
    """The ECR API and registry answer, and moto's Batch has what SCAR's defaults name (unless
    the start is `abandoned` meanwhile)."""
    image_services.wait_until_ready(services, state_dir, abandoned)
    if not abandoned.is_set():
        batch_setup.prepare(moto, state_dir)


def _claim(port: int, extra: int) -> list[int]:
    """`port` if it is free on 127.0.0.1 (a free one for 0), and `extra` other free ports, all
    held at once so that no two are the same (outside the ephemeral range: ports.bind_unused);
    else an error saying what to do."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(1 + extra)]
        if port:
            try:
                sockets[0].bind((HOST, port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise LocalError(_in_use(port)) from None
                raise LocalError(f"cannot use port {port} on {HOST}: {error.strerror}") from None
        for sock in sockets[bool(port):]:
            ports.bind_unused(sock, HOST)
        return [sock.getsockname()[1] for sock in sockets]


def _in_use(port: int) -> str:
    return (f"port {port} on {HOST} is already in use (another LocalStack?): stop what uses "
            "it, or choose another port with `scar-ci local up --port N` (0: any free port).")


def _localstack_env(
    state_dir: Path, port: int, function_python: str, defaults: dict[str, str]
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV", "LOCALSTACK_"))
    }
    env.update(
        GATEWAY_LISTEN=f"{HOST}:{port}",
        LOCALSTACK_HOST=f"{HOST}:{port}",
        LOCALSTACK_VOLUME_DIR=str(state_dir / "volume"),
        SKIP_SSL_CERT_DOWNLOAD="1",
        DISABLE_EVENTS="1",
        DNS_ADDRESS="0",
        LAMBDA_RUNTIME_EXECUTOR=localstack_venv.EXECUTOR_NAME,
        SCAR_CI_FUNCTION_PYTHON=function_python,
        SCAR_CI_FUNCTION_DEFAULTS=json.dumps(defaults),
        SCAR_CI_RUNTIME_DIR=str(state_dir / RUNTIME_DIR),
    )
    return env


def _image_env(state_dir: Path, ecr_endpoint: str) -> dict[str, str]:
    """How the executor gets image functions' images: scar-ci's puller on this Python, the
    cache in the state folder (kept across restarts), the ECR API for the login."""
    return {
        "SCAR_CI_IMAGE_PULL": json.dumps([sys.executable, str(IMAGE_PULL)]),
        "SCAR_CI_IMAGE_DIR": str(state_dir / "images"),
        image_services.ECR_ENDPOINT_VARIABLE: ecr_endpoint,
    }


def _job_env(localstack: str, moto: str) -> dict[str, str]:
    """What every Batch job gets besides its own environment: local mode's endpoints and its
    test credentials (on AWS, the job role's come from the container's metadata)."""
    job = {"AWS_ENDPOINT_URL": localstack, BATCH_ENDPOINT_VARIABLE: moto,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    return {batch_jobs.JOB_ENV_VARIABLE: json.dumps(job)}


def healthy(url: str) -> bool:
    """Whether LocalStack at url answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:  # noqa: S310
            return response.status == 200 and "services" in json.load(response)
    except (OSError, ValueError):
        return False


def stop(state_dir: Path, grace_s: float = STOP_GRACE_S) -> bool:
    """Stop the LocalStack of state_dir and everything it started (the work folders of the
    Batch jobs it killed removed), each process group given `grace_s` after SIGTERM before
    SIGKILL; False if none was running."""
    instance = running(state_dir)
    if instance:
        _kill_group(instance.pid, grace_s)
    for pid in image_services.forget(state_dir):
        _kill_group(pid, grace_s)
    for name in ("pid", "port", batch_setup.BATCH_FILE):
        (state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(batch_jobs.jobs_dir(state_dir / RUNTIME_DIR), ignore_errors=True)
    return instance is not None


def _kill_group(pid: int, grace_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while _group_alive(pid):
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)  # reap our own child, if it is ours, so it is not a zombie
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pgid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
