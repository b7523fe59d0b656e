"""Leaving the process with a command's exit code; after Ctrl-C, at once (stdlib only)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn

INTERRUPTED = 130  # the shell's code for a command ended by SIGINT


def leave(code: int) -> NoReturn:
    """Exit with `code`. After Ctrl-C (INTERRUPTED) the command has said what is left and
    released its scope's lock; calls still running in other threads (a request in flight, a
    wait for a function to become Active) are not waited for: what they did is found by the
    next run, which converges."""
    if code == INTERRUPTED:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
