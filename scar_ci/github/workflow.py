"""Workflow commands for the job log: collapsible groups with timings, masks, untrusted text.

Outside GitHub Actions the same calls print plain lines, so the CLI and `docker run` logs read
the same way without the `::` syntax.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from actions_toolkit.command import issue_command

from scar_ci.github.annotations import in_actions


def _say(line: str) -> None:
    print(line, flush=True)


@contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible log group; its duration is printed after it, visible when folded."""
    started = time.monotonic()
    if in_actions():
        sys.stdout.flush()
        issue_command("group", {}, title)
    else:
        _say(f"== {title}")
    ok = False
    try:
        yield
        ok = True
    finally:
        sys.stdout.flush()
        if in_actions():
            issue_command("endgroup", {}, "")
        _say(f"{'done' if ok else 'FAILED'}: {title} ({time.monotonic() - started:.1f} s)")


def mask(values: Iterable[str]) -> None:
    """Register secrets with `::add-mask::` (each line of a multi-line one on its own)."""
    if not in_actions():
        return
    for value in values:
        for line in value.splitlines():
            if line.strip():
                issue_command("add-mask", {}, line)


def warn(message: str) -> None:
    """A warning annotation under Actions, a `warning:` line elsewhere."""
    if in_actions():
        issue_command("warning", {}, message)
    else:
        print(f"scar-ci: warning: {message}", file=sys.stderr, flush=True)


@contextmanager
def commands_paused() -> Iterator[None]:
    """Under Actions, lines printed inside are text: `::` lines from others issue no command.

    Between `::stop-commands::TOKEN` and `::TOKEN::` the runner treats `::` lines as text;
    the token is random, so the text cannot end the pause itself.
    """
    if not in_actions():
        yield
        return
    token = f"scar-ci-{secrets.token_hex(16)}"
    _say(f"::stop-commands::{token}")
    try:
        yield
    finally:
        sys.stdout.flush()
        _say(f"::{token}::")


def print_untrusted(text: str) -> None:
    """Print text that others control (a function's output) without it issuing commands."""
    with commands_paused():
        _say(text)
