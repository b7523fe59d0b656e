"""Where the commands print: progress lines, and outputs written to files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from scar_ci.errors import UserError


def say_to(stderr: bool = False) -> Callable[[str], None]:
    """A line printer to stdout, or to stderr when stdout carries JSON or data."""
    stream = sys.stderr if stderr else sys.stdout
    return lambda line: print(line, file=stream, flush=True)


def write_file(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as error:
        raise UserError(f"cannot write the output to {path}: {error.strerror}") from None


def write_stdout(content: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(content)
    sys.stdout.flush()
