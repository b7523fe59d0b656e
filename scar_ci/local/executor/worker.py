"""The warm runtime of one execution environment, like Lambda's Python runtime (stdlib only).

    python -u worker.py REQUEST_FD RESULT_FD TASK_DIR OPT_DIR

Imports the handler named by $_HANDLER on its first invocation (from TASK_DIR, then the layers'
`python/` folders under OPT_DIR), then runs one invocation per JSON line read from REQUEST_FD,
with stdout and stderr (its children's too) going to that invocation's log file, and answers on
RESULT_FD with `{"ok": true, "body": ...}` or `{"ok": false, "error": {errorMessage, errorType,
stackTrace}}`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable

PARENT_POLL_S = 0.5


class Context:
    """The handler's context object (the attributes Lambda's Python runtime offers)."""

    def __init__(self, request: dict) -> None:
        self.aws_request_id = request["request_id"]
        self.invoked_function_arn = request["arn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the timeout."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


class LambdaRuntimeError(Exception):
    """An error of the runtime rather than of the handler (import, handler name, result)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class RequestIdFilter(logging.Filter):
    """Adds the current request id to log records, as Lambda's log format shows it."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def add_paths(task_dir: str, opt_dir: str) -> None:
    """sys.path, PATH and LD_LIBRARY_PATH as Lambda sets them for the code and the layers."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    layer_paths = [f"{opt_dir}/python/lib/{version}/site-packages", f"{opt_dir}/python"]
    sys.path[0:1] = [task_dir, *layer_paths]
    for name, folder in (("PATH", f"{opt_dir}/bin"), ("LD_LIBRARY_PATH", f"{opt_dir}/lib")):
        paths = [p for p in os.environ.get(name, "").split(":") if p]
        os.environ[name] = ":".join(paths if folder in paths else [*paths, folder])


def load_handler(name: str) -> Callable:
    """The function named `module.function` (the module may be dotted)."""
    module_name, _, function_name = name.rpartition(".")
    if not module_name:
        raise LambdaRuntimeError("Runtime.MalformedHandlerName", f"Bad handler '{name}'")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:
        raise LambdaRuntimeError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    if not callable(handler := getattr(module, function_name, None)):
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise LambdaRuntimeError("Runtime.HandlerNotFound", message)
    return handler


def redirect_output(log_path: str) -> None:
    """Point fds 1 and 2 (inherited by the handler's subprocesses) at the invocation's log."""
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def run(request: dict, handler: Callable | None) -> tuple[dict, Callable | None]:
    """One invocation: its outcome, and the handler (loaded on first use)."""
    try:
        handler = handler or load_handler(os.environ.get("_HANDLER", ""))
        event = json.loads(request["payload"] or "{}")
        result = handler(event, Context(request))
        try:
            return {"ok": True, "body": json.dumps(result)}, handler
        except (TypeError, ValueError) as error:
            raise LambdaRuntimeError(
                "Runtime.MarshalError", f"Unable to marshal response: {error}"
            ) from error
    except Exception as error:
        error_type = getattr(error, "error_type", type(error).__name__)
        user_frames = traceback.extract_tb(error.__traceback__)[1:]  # without this run()
        stack = [] if isinstance(error, LambdaRuntimeError) else traceback.format_list(user_frames)
        trace = "".join(["Traceback (most recent call last):\n", *stack]) if stack else ""
        print(f"[ERROR] {error_type}: {error}\n{trace}", end="", file=sys.stderr)
        details = {"errorMessage": str(error), "errorType": error_type, "stackTrace": stack}
        return {"ok": False, "error": {**details, "requestId": request["request_id"]}}, handler


def exit_with_parent() -> None:
    """Kill this worker's process group if the init process dies."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.killpg(0, 9)


def main() -> None:
    """Serve invocations until the init process closes the request pipe."""
    request_fd, result_fd = int(sys.argv[1]), int(sys.argv[2])
    for fd in (request_fd, result_fd):
        os.set_inheritable(fd, False)
    add_paths(sys.argv[3], sys.argv[4])
    threading.Thread(target=exit_with_parent, daemon=True).start()
    request_ids = RequestIdFilter()
    log_handler = logging.StreamHandler(sys.stderr)
    log_format = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
    formatter = logging.Formatter(log_format, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    log_handler.setFormatter(formatter)
    log_handler.addFilter(request_ids)
    logging.getLogger().addHandler(log_handler)
    handler = None
    with os.fdopen(request_fd, "rb") as requests, os.fdopen(result_fd, "wb", 0) as results:
        for line in requests:
            request = json.loads(line)
            redirect_output(request["log_path"])
            request_ids.request_id = request["request_id"]
            os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
            outcome, handler = run(request, handler)
            sys.stdout.flush()
            sys.stderr.flush()
            max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            outcome["max_memory_mb"] = max_rss_kb // 1024
            results.write(json.dumps(outcome).encode() + b"\n")


if __name__ == "__main__":
    main()
