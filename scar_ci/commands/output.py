"""Where the commands print: progress lines, and outputs written to files."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scar_ci.errors import UserError


def say_to(stderr: bool = False) -> Callable[[str], None]:
    """A line printer to stdout, or to stderr when stdout carries JSON or data.

    Once its reader is gone (`scar-ci deploy | head`) it prints nothing more: the work a
    command reports on is finished, not left half done.
    """
    stream = sys.stderr if stderr else sys.stdout

    def say(line: str) -> None:
        try:
            print(line, file=stream, flush=True)
        except BrokenPipeError:
            discard_output(stream)

    return say


def discard_output(stream: TextIO) -> None:
    """Send what is still written to `stream` (and its unflushed buffer) to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


class Progress:
    """Work counted toward a total: a bar redrawn in a terminal, a line every tenth of the
    total otherwise (CI logs)."""

    STEPS = 10
    WIDTH = 30

    def __init__(self, what: str, total: int, stream: TextIO | None = None) -> None:
        self.what, self.total = what, total
        self.stream = stream or sys.stdout
        self.step = max(1, total // self.STEPS)

    def __call__(self, done: int, note: str = "") -> None:
        if self.stream.isatty():
            filled = self.WIDTH * done // max(self.total, 1)
            end = "\n" if done >= self.total else ""
            self.stream.write(f"\r{self.what} [{'#' * filled:<{self.WIDTH}}] "
                              f"{done}/{self.total} {note}{end}")
            self.stream.flush()
        elif done % self.step == 0 or done == self.total:
            print(f"{self.what} {done}/{self.total}, {note}", file=self.stream, flush=True)


def table(rows: list[tuple[str, ...]]) -> str:
    """Rows as aligned columns (two spaces apart, the last one not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                                ).rstrip() for row in rows)


def write_file(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as error:
        raise UserError(f"cannot write the output to {path}: {error.strerror}") from None


def write_stdout(content: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(content)
    sys.stdout.flush()


def write_output(content: bytes, path: str | None) -> None:
    """A command's output: to the file `-o` names, else to stdout (under Actions, the output
    guard keeps workflow commands in it from being interpreted: github/workflow.py)."""
    if path:
        write_file(Path(path), content)
        return
    write_stdout(content)
