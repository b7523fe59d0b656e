"""The init process of one execution environment, like Lambda's runtime init (stdlib only).

    python init.py PORT TASK_DIR OPT_DIR WORK_DIR

Receives invocations from LocalStack on 127.0.0.1:PORT (`POST /invoke`), hands them one at a
time to a warm worker process (worker.py, its own process group), enforces the function's timeout
by killing that group, and reports logs (collected in WORK_DIR) and the result or error to
LocalStack's executor endpoint ($LOCALSTACK_RUNTIME_ENDPOINT). A worker that timed out or died
is replaced.
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

WORKER = str(Path(__file__).with_name("worker.py"))
PARENT_POLL_S = 0.5


class Environment:
    """The worker process and what it needs; invocations are serialised, as in Lambda."""

    def __init__(self, task_dir: str, opt_dir: str, work_dir: str) -> None:
        self.task_dir = task_dir
        self.dirs = [task_dir, opt_dir]
        self.endpoint = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
        self.timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.logs_dir = Path(work_dir)
        self.lock = threading.Lock()
        self.count = 0
        self.worker: subprocess.Popen | None = None
        self.to_worker = self.from_worker = -1

    def ensure_worker(self) -> None:
        """Start a worker unless one is alive."""
        if self.worker and self.worker.poll() is None:
            return
        self.kill_worker()  # a worker that exited may have left processes and pipes behind
        request_r, self.to_worker = os.pipe()
        self.from_worker, result_w = os.pipe()
        self.worker = subprocess.Popen(
            [sys.executable, "-u", WORKER, str(request_r), str(result_w), *self.dirs],
            cwd=self.task_dir,
            stdin=subprocess.DEVNULL,
            pass_fds=(request_r, result_w),
            start_new_session=True,
        )
        os.close(request_r)
        os.close(result_w)

    def kill_worker(self) -> int | None:
        """Kill the worker's whole process group; returns its exit status."""
        if not self.worker:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        status = self.worker.wait()
        os.close(self.to_worker)
        os.close(self.from_worker)
        self.worker = None
        return status

    def invoke(self, invocation: dict) -> None:
        """Run one invocation and report it to LocalStack."""
        with self.lock:
            self.count += 1
            request_id = invocation["invoke-id"]
            log_path = self.logs_dir / f"invocation-{self.count}.log"
            started = time.monotonic()
            deadline = started + self.timeout_s
            self.ensure_worker()
            request = {
                "request_id": request_id,
                "arn": invocation.get("invoked-function-arn", ""),
                "payload": invocation.get("payload") or "",
                "trace_id": invocation.get("trace-id") or "",
                "deadline_ms": int((time.time() + self.timeout_s) * 1000),
                "log_path": str(log_path),
            }
            try:
                os.write(self.to_worker, json.dumps(request).encode() + b"\n")
                outcome, note = self.wait_for_outcome(deadline), ""
            except BrokenPipeError:  # the worker died between two invocations
                outcome, note = {}, ""
            if outcome is None:
                note = f"Task timed out after {self.timeout_s:.2f} seconds"
                outcome = _error("Sandbox.Timedout", f"RequestId: {request_id} Error: {note}")
                self.kill_worker()
            elif "ok" not in outcome:
                outcome = _error(
                    "Runtime.ExitError",
                    f"RequestId: {request_id} Error: Runtime exited with error: "
                    + _describe_exit(self.kill_worker() or 0),
                )
            duration_ms = (time.monotonic() - started) * 1000
            logs = _read_and_remove(log_path)
            logs = self.log_text(request_id, logs, note, duration_ms, outcome)
            self.report(request_id, outcome, logs)

    def wait_for_outcome(self, deadline: float) -> dict | None:
        """The worker's answer; None on timeout, {} if the worker died."""
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


def _describe_exit(status: int) -> str:
    return f"exit status {status}" if status >= 0 else f"signal: {signal.Signals(-status).name}"


def _read_and_remove(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    path.unlink()
    return text


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
    environment.kill_worker()
    os._exit(1)


def main() -> None:
    """Start the server and a warm worker, then tell LocalStack that the environment is ready."""
    environment = Environment(*sys.argv[2:5])
    port = int(sys.argv[1])
    try:
        server = _serve(environment, port)
    except OSError as error:
        message = json.dumps({"errorMessage": str(error), "errorType": "Runtime.InitError"})
        environment.post(f"status/{os.environ['LOCALSTACK_RUNTIME_ID']}/error", message.encode())
        raise SystemExit(1) from error

    def terminate(*_: object) -> None:
        environment.kill_worker()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    threading.Thread(target=_exit_with_parent, args=(environment,), daemon=True).start()
    environment.ensure_worker()
    environment.post(f"status/{os.environ['LOCALSTACK_RUNTIME_ID']}/ready", b"")
    server.serve_forever()


if __name__ == "__main__":
    main()
