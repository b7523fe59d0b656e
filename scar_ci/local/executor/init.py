"""The init process of one execution environment, like Lambda's runtime init (stdlib only).

    python init.py PORT WORK_DIR zip TASK_DIR OPT_DIR     (a zip function: worker.py)
    python init.py PORT WORK_DIR image SPEC_FILE          (an image: runtime_api.ImageRuntime)

Receives invocations from LocalStack on 127.0.0.1:PORT (`POST /invoke`), hands them one at a
time to the warm runtime (its own process group), enforces the function's timeout by killing
that group, and reports logs (collected in WORK_DIR) and the result or error to LocalStack's
executor endpoint ($LOCALSTACK_RUNTIME_ENDPOINT). A runtime that timed out or died is replaced
at the next invocation.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from runtime_api import ImageRuntime, InitFailed, describe_exit

WORKER = str(Path(__file__).with_name("worker.py"))
PARENT_POLL_S = 0.5


class PythonWorker:
    """A zip function's warm runtime: worker.py in its own process group, fed through pipes."""

    def __init__(self, task_dir: str, opt_dir: str) -> None:
        self.task_dir = task_dir
        self.dirs = [task_dir, opt_dir]
        self.process: subprocess.Popen | None = None
        self.to_worker = self.from_worker = -1

    def ensure(self, _deadline: float | None) -> bool:
        """Start a worker unless one is alive (it imports the handler at its first invocation)."""
        if self.process and self.process.poll() is None:
            return True
        self.kill()  # a worker that exited may have left processes and pipes behind
        request_r, self.to_worker = os.pipe()
        self.from_worker, result_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-u", WORKER, str(request_r), str(result_w), *self.dirs],
            cwd=self.task_dir,
            stdin=subprocess.DEVNULL,
            pass_fds=(request_r, result_w),
            start_new_session=True,
        )
        os.close(request_r)
        os.close(result_w)
        return True

    def kill(self) -> int | None:
        """Kill the worker's whole process group; returns its exit status."""
        if not self.process:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        status = self.process.wait()
        os.close(self.to_worker)
        os.close(self.from_worker)
        self.process = None
        return status

    def run(self, request: dict, deadline: float) -> dict | None:
        """The worker's answer; None on timeout, {} if the worker died."""
        try:
            os.write(self.to_worker, json.dumps(request).encode() + b"\n")
        except BrokenPipeError:  # the worker died between two invocations
            return {}
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.from_worker], [], [], remaining)[0]:
                return None
            chunk = os.read(self.from_worker, 65536)
            if not chunk:
                return {}
            line += chunk
        return json.loads(line)

    @staticmethod
    def logs(log_path: Path) -> str:
        """The invocation's log file, which the worker wrote (removed once read)."""
        try:
            text = log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        log_path.unlink()
        return text


class Environment:
    """One execution environment: invocations are serialised, as in Lambda, on its runtime
    (a PythonWorker or an ImageRuntime)."""

    def __init__(self, runtime: PythonWorker | ImageRuntime, work_dir: str) -> None:
        self.runtime = runtime
        self.endpoint = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
        self.timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.logs_dir = Path(work_dir)
        self.lock = threading.Lock()
        self.count = 0

    def invoke(self, invocation: dict) -> None:
        """Run one invocation and report it to LocalStack."""
        with self.lock:
            self.count += 1
            request_id = invocation["invoke-id"]
            log_path = self.logs_dir / f"invocation-{self.count}.log"
            started = time.monotonic()
            deadline = started + self.timeout_s
            request = {
                "request_id": request_id,
                "arn": invocation.get("invoked-function-arn", ""),
                "payload": invocation.get("payload") or "",
                "trace_id": invocation.get("trace-id") or "",
                "deadline_ms": int((time.time() + self.timeout_s) * 1000),
                "log_path": str(log_path),
            }
            note = ""
            try:
                started_in_time = self.runtime.ensure(deadline)
                outcome = self.runtime.run(request, deadline) if started_in_time else None
            except InitFailed as failed:  # an image's entry failed its init (again)
                outcome = {"error": failed.error}
            if outcome is None:
                note = f"Task timed out after {self.timeout_s:.2f} seconds"
                outcome = _error("Sandbox.Timedout", f"RequestId: {request_id} Error: {note}")
                self.runtime.kill()
            elif "ok" not in outcome and "error" not in outcome:
                outcome = _error(
                    "Runtime.ExitError",
                    f"RequestId: {request_id} Error: Runtime exited with error: "
                    + describe_exit(self.runtime.kill() or 0),
                )
            duration_ms = (time.monotonic() - started) * 1000
            logs = self.log_text(request_id, self.runtime.logs(log_path), note, duration_ms,
                                 outcome)
            self.report(request_id, outcome, logs)

    def log_text(
        self, request_id: str, logs: str, note: str, duration_ms: float, outcome: dict
    ) -> str:
        """The invocation's log as Lambda writes it: START, output, END, REPORT."""
        version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        lines = [f"START RequestId: {request_id} Version: {version}", logs.rstrip("\n")]
        if note:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            lines.append(f"{stamp}Z {request_id} {note}")
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory} MB\t"
            f"Max Memory Used: {outcome.get('max_memory_mb', 0)} MB"
        )
        return "\n".join(line for line in lines if line) + "\n"

    def report(self, request_id: str, outcome: dict, logs: str) -> None:
        """Logs first, then the response or the error (LocalStack resolves the call on those)."""
        self.post(f"invocations/{request_id}/logs", json.dumps({"logs": logs}).encode())
        if outcome.get("ok"):
            self.post(f"invocations/{request_id}/response", outcome["body"].encode())
        else:
            self.post(f"invocations/{request_id}/error", json.dumps(outcome["error"]).encode())

    def post(self, path: str, body: bytes) -> None:
        """POST to LocalStack's executor endpoint."""
        url = f"{self.endpoint}/{path}"
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310 (ours)
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (our own endpoint)
            pass


def _error(error_type: str, message: str) -> dict:
    return {"error": {"errorMessage": message, "errorType": error_type}}


def _serve(environment: Environment, port: int) -> ThreadingHTTPServer:
    class InvokeHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            invocation = json.loads(self.rfile.read(int(self.headers["Content-Length"] or 0)))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            threading.Thread(target=environment.invoke, args=(invocation,), daemon=True).start()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), InvokeHandler)


def _exit_with_parent(environment: Environment) -> None:
    """Leave nothing behind if LocalStack dies without stopping us."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    environment.runtime.kill()
    os._exit(1)


def _runtime(kind: str, *args: str) -> PythonWorker | ImageRuntime:
    if kind == "image":
        spec_path = Path(args[0])
        return ImageRuntime(json.loads(spec_path.read_text()), spec_path.parent)
    return PythonWorker(*args)


def main() -> None:
    """Start the server and the runtime, then tell LocalStack whether the environment is ready
    (an image's entry is ready when it first asks for an invocation)."""
    port, work_dir = int(sys.argv[1]), sys.argv[2]
    environment = Environment(_runtime(*sys.argv[3:]), work_dir)
    status = f"status/{os.environ['LOCALSTACK_RUNTIME_ID']}"
    try:
        server = _serve(environment, port)
    except OSError as error:
        message = json.dumps({"errorMessage": str(error), "errorType": "Runtime.InitError"})
        environment.post(f"{status}/error", message.encode())
        raise SystemExit(1) from error

    def terminate(*_: object) -> None:
        environment.runtime.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    threading.Thread(target=_exit_with_parent, args=(environment,), daemon=True).start()
    try:
        environment.runtime.ensure(None)
    except InitFailed as failed:
        environment.post(f"{status}/error", json.dumps(failed.error).encode())
        raise SystemExit(1) from None
    environment.post(f"{status}/ready", b"")
    server.serve_forever()


if __name__ == "__main__":
    main()
