"""A container-image function's runtime process and Lambda's Runtime API for it (stdlib only).

Used by init.py on the function's Python. The image's entry runs under udocker with
AWS_LAMBDA_RUNTIME_API pointing at a small server of Lambda's Runtime API on 127.0.0.1
(`/2018-06-01/runtime/invocation/next`, `/invocation/{id}/response`, `/invocation/{id}/error`,
`/init/error`), one server per runtime process. Its init is done when it first asks for `next`;
its stdout and stderr go to one file, cut into each invocation's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/2018-06-01/runtime"
_INVOCATION = re.compile(rf"{PREFIX}/invocation/([^/]+)/(response|error)")
OUTPUT_TAIL_LINES = 10
SHUTDOWN_POLL_S = 0.05  # how long close() waits for the server to stop (0.5 s by default)


class InitFailed(Exception):
    """The runtime failed its init (reported /init/error, or exited); `.error` for the caller."""

    def __init__(self, error: dict) -> None:
        super().__init__(error.get("errorMessage", ""))
        self.error = error


class RuntimeAPI:
    """The Runtime API of one runtime process: hands out invocations, keeps what comes back."""

    def __init__(self) -> None:
        self.invocations: queue.Queue[dict | None] = queue.Queue()
        self.ready = threading.Event()  # the first `next`, an init error, or the process gone
        self.done = threading.Event()  # the current invocation's answer, or the process gone
        self.init_error: dict | None = None
        self.outcome: dict | None = None
        self.current = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        serve = {"poll_interval": SHUTDOWN_POLL_S}
        threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True).start()

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    def hand_out(self, request: dict) -> None:
        """Queue one invocation for the runtime's `next`."""
        self.current, self.outcome = request["request_id"], None
        self.done.clear()
        self.invocations.put(request)

    def answer(self, request_id: str, outcome: dict) -> None:
        """The runtime's response or error for `request_id` (others are ignored)."""
        if request_id == self.current and not self.done.is_set():
            self.outcome = outcome
            self.done.set()

    def close(self) -> None:
        """Release a waiting `next` and stop serving."""
        self.ready.set()
        self.done.set()
        self.invocations.put(None)
        self.server.shutdown()
        self.server.server_close()


def _handler(api: RuntimeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self._reply(404, {"errorMessage": f"unknown path {self.path}"})
                return
            api.ready.set()
            request = api.invocations.get()
            if request is None:  # the process is being stopped
                return
            body = request["payload"].encode() or b"{}"
            self.send_response(200)
            for name, value in {
                "Lambda-Runtime-Aws-Request-Id": request["request_id"],
                "Lambda-Runtime-Deadline-Ms": str(request["deadline_ms"]),
                "Lambda-Runtime-Invoked-Function-Arn": request["arn"],
                # awslambdaric's native client crashes on a `next` without a trace id
                "Lambda-Runtime-Trace-Id": request["trace_id"] or _trace_id(),
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
            }.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == f"{PREFIX}/init/error":
                api.init_error = self._error(body)
                api.ready.set()
            elif match := _INVOCATION.fullmatch(self.path):
                request_id, kind = match.groups()
                api.answer(request_id, {"ok": True, "body": body.decode(errors="replace")}
                           if kind == "response" else {"ok": False, "error": self._error(body)})
            else:
                self._reply(404, {"errorMessage": f"unknown path {self.path}"})
                return
            self._reply(202, {"status": "OK"})

        def _error(self, body: bytes) -> dict:
            with contextlib.suppress(ValueError):
                if isinstance(error := json.loads(body), dict):
                    return error
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
            return {"errorMessage": body.decode(errors="replace"), "errorType": error_type}

        def _reply(self, status: int, answer: dict) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"


class ImageRuntime:
    """The image's entry under udocker (its own process group), started again after it died.

    `spec` (written by the executor): `run`, udocker's argv up to the Runtime API variable;
    `entry`, what follows it (container and command); `env`, udocker's environment.
    """

    def __init__(self, spec: dict, work_dir: Path) -> None:
        self.spec = spec
        self.output = work_dir / "output.log"
        self.offset = 0
        self.process: subprocess.Popen | None = None
        self.api: RuntimeAPI | None = None

    def ensure(self, deadline: float | None) -> bool:
        """Start the runtime unless it runs; False if its init outlasts `deadline`; raises
        InitFailed when it reports an init error or exits during init."""
        if self.process and self.process.poll() is None:
            return True
        self.kill()
        self.api = api = RuntimeAPI()
        argv = [*self.spec["run"], f"--env=AWS_LAMBDA_RUNTIME_API={api.address}",
                *self.spec["entry"]]
        with self.output.open("ab") as out:
            self.process = process = subprocess.Popen(
                argv, env=self.spec["env"], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._watch, args=(process, api), daemon=True).start()
        if not api.ready.wait(None if deadline is None else max(0, deadline - time.monotonic())):
            return False
        if api.init_error is not None or process.poll() is not None:
            init_error, status = api.init_error, self.kill() or 0
            raise InitFailed(init_error or _exit_error(status, self._tail()))
        return True

    def run(self, request: dict, deadline: float) -> dict | None:
        """The invocation's outcome; None on timeout, {} if the runtime died."""
        if self.api is None:
            raise RuntimeError("ImageRuntime.run before ensure(): no runtime is started to "
                               "hand the invocation to")
        self.api.hand_out(request)
        if not self.api.done.wait(max(0, deadline - time.monotonic())):
            return None
        if not self.api.outcome or not self.process:
            return {}
        return {**self.api.outcome, "max_memory_mb": group_peak_mb(self.process.pid)}

    def kill(self) -> int | None:
        """Kill the runtime's process group; its exit status."""
        if self.api:
            self.api.close()
            self.api = None
        if not self.process:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        status = self.process.wait()
        self.process = None
        return status

    def logs(self, _log_path: Path) -> str:
        """What the runtime wrote since the previous call."""
        with self.output.open("rb") as output:
            output.seek(self.offset)
            data = output.read()
        self.offset += len(data)
        return data.decode(errors="replace")

    def _tail(self) -> str:
        return "\n".join(self.logs(self.output).splitlines()[-OUTPUT_TAIL_LINES:])

    @staticmethod
    def _watch(process: subprocess.Popen, api: RuntimeAPI) -> None:
        process.wait()
        api.ready.set()
        api.done.set()


def group_peak_mb(pgid: int) -> int:
    """The largest peak resident size (VmHWM) among the processes of group `pgid`, in MB."""
    peak_kb = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                status = stat.with_name("status").read_text()
                peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
    return peak_kb // 1024


def describe_exit(status: int) -> str:
    """An exit status as Lambda words it."""
    return f"exit status {status}" if status >= 0 else f"signal: {signal.Signals(-status).name}"


def _exit_error(status: int, output: str) -> dict:
    message = f"Runtime exited with error: {describe_exit(status)} during init"
    return {"errorMessage": f"{message}; its last output:\n{output}" if output else message,
            "errorType": "Runtime.ExitError"}
