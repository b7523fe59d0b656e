"""Run one command: output streamed to the log line by line and captured, time limit enforced."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_CAPTURED = 4 * 1024 * 1024  # what fits, base64-encoded, in Lambda's 6 MB response
LINE_LIMIT = 64 * 1024  # longer lines (binary output) reach the log in pieces
TRUNCATED_NOTE = b"\n[output truncated: the whole output is in the function's log]\n"


@dataclass(frozen=True)
class RunResult:
    """How a command ended and what it printed (stdout and stderr interleaved)."""

    exit_code: int | None  # None when it was killed for running out of time
    output: bytes
    timed_out: bool


def run_streaming(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
    cwd: Path | None = None,
    log: Callable[[bytes], None] | None = None,
) -> RunResult:
    """Run `argv` (never through a shell) in its own process group; kill the group at `timeout`."""
    sink = log or _log_line
    with subprocess.Popen(
        list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    ) as proc:
        captured = _Capture()
        reader = threading.Thread(target=captured.read, args=(proc.stdout, sink), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        reader.join(timeout=5)
    return RunResult(None if timed_out else proc.returncode, captured.value(), timed_out)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _log_line(line: bytes) -> None:
    sys.stdout.buffer.write(line if line.endswith(b"\n") else line + b"\n")
    sys.stdout.flush()


class _Capture:
    """Lines as they come: each one to the log, the first MAX_CAPTURED bytes kept."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._truncated = False

    def read(self, stream: BinaryIO, sink: Callable[[bytes], None]) -> None:
        for line in iter(lambda: stream.readline(LINE_LIMIT), b""):
            sink(line)
            if self._size + len(line) <= MAX_CAPTURED:
                self._chunks.append(line)
                self._size += len(line)
            else:
                self._truncated = True

    def value(self) -> bytes:
        return b"".join(self._chunks) + (TRUNCATED_NOTE if self._truncated else b"")
