"""Errors a user can meet: each carries its message and the exit code it ends the run with."""

from __future__ import annotations

from typing import NamedTuple


# Not a dataclass: every command imports this module, and dataclasses (inspect, ast, tokenize)
# would cost `scar-ci --version` a tenth of its time.
class Annotation(NamedTuple):
    """A problem tied to a place in a file, shown on the pull request's diff under Actions."""

    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None


class UserError(Exception):
    """A problem the user can fix; printed as one message, no traceback."""

    exit_code = 1

    def render(self) -> str:
        """The text printed on stderr."""
        return f"scar-ci: {self}"

    def annotations(self) -> list[Annotation]:
        """What to annotate under GitHub Actions (by default the message itself)."""
        return [Annotation(str(self))]


class UsageError(UserError):
    """Wrong command-line use."""

    exit_code = 2
