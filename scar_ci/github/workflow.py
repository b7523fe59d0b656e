"""The job log under GitHub Actions: every line printed is text, workflow commands are issued
only here, and groups with timings, masks and warnings.

The runner reads a line as a command when it starts with `::` (after blanks) or holds `##[`,
and it breaks lines at `\\r` as well as `\\n`. Messages quote user text (FDL values, file and
branch names, function output), so `guard_output()` makes sys.stdout and sys.stderr print any
line that could read as a command between `::stop-commands::TOKEN` and `::TOKEN::`, with a
fresh random token the text cannot know; `command()` writes past the guard, its message and
properties escaped as GitHub's toolkit does. Outside Actions nothing is guarded and the same
calls print plain lines, so the CLI and `docker run` logs read the same way.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from actions_toolkit.command import Command

_RUNNER_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def in_actions() -> bool:
    """True when running as a step of a GitHub Actions job."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def neutralised(line: str) -> str:
    """`line` as it is, or between stop-commands when a part of it would read as a command."""
    parts = _RUNNER_LINE_BREAK.split(line)
    if not any(part.lstrip().startswith("::") or "##[" in part for part in parts):
        return line
    token = f"scar-ci-{os.urandom(16).hex()}"  # secrets.token_hex, without its imports
    return f"::stop-commands::{token}\n{line}\n::{token}::"


class GuardedStream:
    """A text stream whose complete lines are written `neutralised`; bytes written to its
    `buffer` likewise. Anything else is the wrapped stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer = _GuardedBytes(self)
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self.stream.write(neutralised(line) + "\n")
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for text in lines:
            self.write(text)

    def end_line(self) -> None:
        """Write what is left of an unfinished line (before a command, and at exit)."""
        if self._pending and not self.stream.closed:
            self.write("\n")
            self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _GuardedBytes:
    """The guarded stream's `buffer`: bytes lines, neutralised the same way (latin-1 keeps
    every byte as it is)."""

    def __init__(self, text: GuardedStream) -> None:
        self.text = text
        self._pending = b""

    def write(self, data: bytes) -> int:
        self.text.end_line()
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            self.text.stream.buffer.write(neutralised(line.decode("latin-1")).encode("latin-1")
                                          + b"\n")
        if self._pending:  # binary output seldom ends with a newline: end it here
            self.text.stream.buffer.write(neutralised(self._pending.decode("latin-1"))
                                          .encode("latin-1"))
            self._pending = b""
        return len(data)

    def flush(self) -> None:
        self.text.stream.buffer.flush()


def guard_output() -> None:
    """Under Actions, have sys.stdout and sys.stderr print every line as text (above)."""
    if not in_actions():
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, GuardedStream):
            guarded = GuardedStream(stream)
            setattr(sys, name, guarded)
            atexit.register(guarded.end_line)


def end_lines() -> None:
    """End the unfinished lines of guarded streams (at the end of a command's run)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, GuardedStream):
            stream.end_line()


def command(name: str, properties: dict[str, Any], message: str) -> None:
    """Issue the workflow command `::name properties::message` (escaped), past the guard."""
    out = sys.stdout
    if isinstance(out, GuardedStream):
        out.end_line()
        out = out.stream
    out.write(f"{Command(name, properties, message)}\n")
    out.flush()


def _say(line: str) -> None:
    print(line, flush=True)


@contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible log group; its duration is printed after it, visible when folded."""
    started = time.monotonic()
    if in_actions():
        sys.stdout.flush()
        command("group", {}, title)
    else:
        _say(f"== {title}")
    ok = False
    try:
        yield
        ok = True
    finally:
        sys.stdout.flush()
        if in_actions():
            command("endgroup", {}, "")
        _say(f"{'done' if ok else 'FAILED'}: {title} ({time.monotonic() - started:.1f} s)")


def mask(values: Iterable[str]) -> None:
    """Register secrets with `::add-mask::` (each line of a multi-line one on its own)."""
    if not in_actions():
        return
    for value in values:
        for line in value.splitlines():
            if line.strip():
                command("add-mask", {}, line)


def warn(message: str) -> None:
    """A warning annotation under Actions, a `warning:` line elsewhere."""
    if in_actions():
        command("warning", {}, message)
    else:
        print(f"scar-ci: warning: {message}", file=sys.stderr, flush=True)
