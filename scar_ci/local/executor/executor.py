"""LocalStack's side of the executor: one init process (init.py) per execution environment.

Uses LocalStack internals (RuntimeExecutor, ExecutorEndpoint, the version's unzipped code):
pinned with localstack-core in scar_ci/local/localstack_venv.py.

Every execution environment runs in Lambda's sandbox (sandbox.py): as a non-root user, code at
/var/task and layers at /opt read-only, only a /tmp of the function's ephemeral storage size
writable, ptrace denied, Lambda's variables. The executor must be root to make it; run as
another user, functions run as that user with ptrace denied, and the sandbox says so in the
environment's log. Local mode's udocker settings for image functions (a proot wrapper) come from
$SCAR_CI_FUNCTION_DEFAULTS (JSON).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from localstack.utils.net import get_free_tcp_port

from . import images

LOG = logging.getLogger(__name__)
INIT = Path(__file__).with_name("init.py")
SANDBOX = Path(__file__).with_name("sandbox.py")
FUNCTION_PYTHON_VARIABLE = "SCAR_CI_FUNCTION_PYTHON"
FUNCTION_DEFAULTS_VARIABLE = "SCAR_CI_FUNCTION_DEFAULTS"
RUNTIME_DIR_VARIABLE = "SCAR_CI_RUNTIME_DIR"
# Local mode's defaults that zip functions get too: the Docker Hub mirror of
# `local up --docker-hub-mirror`, which their supervisor's udocker pulls Docker Hub names from,
# and local mode's Batch, which a batch function's supervisor submits its jobs to.
EVERY_FUNCTION_DEFAULTS = ("UDOCKER_REGISTRY", "AWS_ENDPOINT_URL_BATCH")
DEFAULT_TMP_MB = 512
SANDBOX_TMP = "/tmp"  # noqa: S108 (the sandbox's own tmpfs)
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LIBRARY_PATH = ("/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                       "/var/task:/var/task/lib:/opt/lib")
STOP_GRACE_S = 2
HOST = "127.0.0.1"


def function_python() -> str:
    """The interpreter functions run on (not LocalStack's): $SCAR_CI_FUNCTION_PYTHON."""
    python = os.environ.get(FUNCTION_PYTHON_VARIABLE, "")
    if not Path(python).is_file():
        raise LambdaRuntimeException(
            f"{FUNCTION_PYTHON_VARIABLE}={python!r} is not a Python interpreter: start LocalStack "
            "with `scar-ci local up`, which sets it."
        )
    return python


def opt_dir(function_version: FunctionVersion) -> Path:
    """The version's /opt: its layers merged in order, shared by its environments."""
    version = [function_version.qualified_arn, function_version.config.revision_id]
    key = hashlib.sha256("\0".join(version).encode())
    return Path(tempfile.gettempdir(), "scar-local-opt", key.hexdigest()[:16])


def runtime_dir() -> Path:
    """Where execution environments keep their logs: $SCAR_CI_RUNTIME_DIR (set by local mode),
    never under /tmp, which each sandbox replaces with its own."""
    return Path(os.environ.get(RUNTIME_DIR_VARIABLE) or config.dirs.var_libs, "environments")


def sandbox_ids() -> tuple[int, int]:
    """The sandbox user (images.sandbox_ids), or why $SCAR_CI_SANDBOX_UID is not one."""
    try:
        return images.sandbox_ids()
    except ValueError as error:
        raise LambdaRuntimeException(str(error)) from None


def _function_defaults() -> dict[str, str]:
    return json.loads(os.environ.get(FUNCTION_DEFAULTS_VARIABLE) or "{}")


def _every_function_defaults() -> dict[str, str]:
    defaults = _function_defaults()
    return {key: defaults[key] for key in EVERY_FUNCTION_DEFAULTS if key in defaults}


def _prepare_image(function_version: FunctionVersion, python: str) -> images.PreparedImage:
    """The function's image, pulled into the cache the first time (for this ImageUri)."""
    config = function_version.config
    architecture = (config.architectures or ["x86_64"])[0]
    try:
        prepared = images.prepare(config.image.image_uri, architecture, python,
                                  images.udocker_env(_function_defaults()))
    except images.ImageError as error:
        raise LambdaRuntimeException(str(error)) from None
    overrides = config.image_config
    if not prepared.entry(overrides and overrides.entrypoint, overrides and overrides.command):
        raise LambdaRuntimeException(
            f"image {config.image.image_uri} has no Entrypoint or Cmd, and the function's "
            "ImageConfig sets none: nothing to run")
    return prepared


def _layers(function_version: FunctionVersion) -> list:
    return [layer for layer in function_version.config.layers if layer.code]


class LocalProcessExecutor(RuntimeExecutor):
    """Runs a zip function's handler in a local process on the function's own Python, or a
    container-image function's entry under udocker."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.endpoint = ExecutorEndpoint(id, container_address=HOST, container_port=None)
        self.process: subprocess.Popen | None = None
        runtime_dir().mkdir(parents=True, exist_ok=True)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"{id}-", dir=runtime_dir()))
        self.work_dir.chmod(0o755)  # the sandbox user reaches its log folder through it
        self.log_dir = self.work_dir / "logs"
        self.log_dir.mkdir()
        self.log_path = self.work_dir / "init.log"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip code and layers (an exception here makes the function Failed, with its text)."""
        python = function_python()
        version_config = function_version.config
        if version_config.package_type == PackageType.Image:
            _prepare_image(function_version, python)
            return
        if version_config.package_type != PackageType.Zip or not version_config.code:
            raise LambdaRuntimeException("the scar-local executor runs zip functions only")
        if not str(version_config.runtime).startswith("python"):
            raise LambdaRuntimeException(
                f"the scar-local executor runs Python functions only, not {version_config.runtime}"
            )
        version_config.code.prepare_for_execution()
        target = opt_dir(function_version)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        staging.chmod(0o755)  # /opt in the sandbox: readable by the sandbox user
        for layer in _layers(function_version):  # later layers overwrite earlier ones, as in Lambda
            layer.code.prepare_for_execution()
            shutil.copytree(
                layer.code.get_unzipped_code_location(), staging, symlinks=True, dirs_exist_ok=True
            )
        try:
            staging.rename(target)
        except OSError:  # prepared concurrently by another caller
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Remove the version's merged layers."""
        shutil.rmtree(opt_dir(function_version), ignore_errors=True)

    def start(self, env_vars: dict[str, str]) -> None:
        """Start the init process in its sandbox and wait until it reports ready (or fails)."""
        self.endpoint.container_port = get_free_tcp_port()
        self.endpoint.start()
        lambda_env = {**_every_function_defaults(),
                      **{key: str(value) for key, value in env_vars.items()}}
        version_config = self.function_version.config
        isolated = os.geteuid() == 0
        env = {"PATH": LAMBDA_PATH, "LANG": "en_US.UTF-8", "TZ": ":UTC"}
        if version_config.package_type == PackageType.Image:
            env.update(lambda_env)
            runtime = ["image", str(self._write_image_spec(lambda_env, isolated))]
            task_dir = layers = None
        else:
            task_dir = version_config.code.get_unzipped_code_location()
            layers = opt_dir(self.function_version)
            env.update({
                "LD_LIBRARY_PATH": LAMBDA_LIBRARY_PATH,
                "LAMBDA_RUNTIME_DIR": "/var/runtime",
                **lambda_env,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{version_config.runtime}",
                "LAMBDA_TASK_ROOT": "/var/task" if isolated else str(task_dir),
            })
            dirs = ["/var/task", "/opt"] if isolated else [str(task_dir), str(layers)]
            runtime = ["zip", *dirs]
        python = function_python()
        spec = self._sandbox_spec(python, task_dir, layers)
        command = [python, str(SANDBOX), str(spec), "--", python, str(INIT),
                   str(self.endpoint.container_port), str(self.log_dir), *runtime]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=self.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        threading.Thread(target=self._watch, args=(self.process,), daemon=True).start()
        self.endpoint.wait_for_startup()

    def _sandbox_spec(self, python: str, task_dir: Path | None, layers: Path | None) -> Path:
        """What sandbox.py makes for this environment, in a file of the work folder."""
        uid, gid = sandbox_ids()
        storage = self.function_version.config.ephemeral_storage
        spec = {
            "uid": uid, "gid": gid,
            "tmp_mb": storage.size if storage else DEFAULT_TMP_MB,
            "task_dir": task_dir and str(task_dir), "opt_dir": layers and str(layers),
            "work_dir": str(self.work_dir), "log_dir": str(self.log_dir),
            "reachable": [*images.reachable(python, _function_defaults()), str(INIT.parent),
                          str(self.log_dir)],
            "deny_ptrace": task_dir is not None,  # an image runs under proot (P1): it needs it
        }
        path = self.work_dir / "sandbox.json"
        path.write_text(json.dumps(spec))
        return path

    def _write_image_spec(self, lambda_env: dict[str, str], isolated: bool) -> Path:
        """What the init process runs for an image function (images.run_spec), in a file of
        the log folder (where the runtime also writes its output). In the sandbox, udocker's
        scratch and the image's /tmp are the sandbox's /tmp; the image itself is read-only."""
        config = self.function_version.config
        overrides = config.image_config
        python = function_python()
        prepared = _prepare_image(self.function_version, python)
        udocker_env = images.udocker_env(_function_defaults())
        if isolated:
            tmp_dir = Path(SANDBOX_TMP)
            udocker_env.update(UDOCKER_TMP=SANDBOX_TMP, PROOT_TMP_DIR=SANDBOX_TMP)
        else:
            tmp_dir = self.work_dir / "tmp"
            tmp_dir.mkdir()
        spec = images.run_spec(
            prepared,
            prepared.entry(overrides and overrides.entrypoint, overrides and overrides.command),
            overrides and overrides.working_directory,
            lambda_env,
            tmp_dir,
            udocker_env,
            python,
        )
        if isolated:  # the image sees the sandbox user (sbx_user1051), as on Lambda
            spec["run"] += ["--hostauth", "--user={}:{}".format(*sandbox_ids())]
        path = self.log_dir / "image.json"
        path.write_text(json.dumps(spec))
        return path

    def _watch(self, process: subprocess.Popen) -> None:
        """If the init process dies, fail what LocalStack is waiting for instead of hanging."""
        status = process.wait()
        said = [line for line in self.get_logs().splitlines() if line.strip()]
        reason = f": {said[-1]}" if said else ""  # e.g. why the sandbox could not be made
        message = json.dumps({"errorMessage": f"init process exited ({status}){reason}",
                              "errorType": "Runtime.ExitError"})
        startup = self.endpoint.startup_future
        if startup and not startup.done():
            startup.set_exception(StatusErrorException("init exited", payload=message.encode()))
        invocation = self.endpoint.invocation_future
        if invocation and not invocation.done():
            invocation.set_result(InvocationResult("", message.encode(), is_error=True, logs=""))

    def stop(self) -> None:
        """Stop the init process (it kills its worker's process group) and the endpoint."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:
            self.endpoint.shutdown()
        except Exception as error:  # the endpoint may never have started
            LOG.debug("stopping the executor endpoint of %s: %s", self.id, error)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def get_address(self) -> str:
        """Where LocalStack sends invocations."""
        return HOST

    def get_endpoint_from_executor(self) -> str:
        """Where the function reaches LocalStack (AWS_ENDPOINT_URL's host)."""
        return HOST

    def get_runtime_endpoint(self) -> str:
        """The executor endpoint's base URL, for the init process."""
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{HOST}:{port}{self.endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        """Send one invocation and wait for what the init process reports."""
        return self.endpoint.invoke(payload)

    def get_logs(self) -> str:
        """The init process's own output (not the invocations' logs)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
