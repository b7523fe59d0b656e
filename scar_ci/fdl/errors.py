"""Problems found in an FDL file (or its configuration file), and the error that carries them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scar_ci.errors import Annotation, UserError
from scar_ci.fdl.located import KeyPath, Position, format_path


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at one place: `file:line:col: key.path: message`."""

    position: Position
    path: KeyPath
    message: str

    def sort_key(self, first_file: str) -> tuple[bool, str, int, int, str]:
        """Problems of `first_file` first, then by file, line and column."""
        pos = self.position
        return (pos.file != first_file, pos.file, pos.line or 0, pos.col or 0, str(self))

    def __str__(self) -> str:
        where = format_path(self.path)
        return f"{self.position}: {where + ': ' if where else ''}{self.message}"


class FDLError(UserError):
    """An FDL that cannot be used; lists every problem, one per line (exit code 2)."""

    exit_code = 2

    def __init__(self, fdl_name: str, problems: Sequence[Problem]) -> None:
        self.fdl_name = fdl_name
        self.problems = tuple(sorted(problems, key=lambda p: p.sort_key(fdl_name)))
        super().__init__(self.summary())

    def summary(self) -> str:
        """The final line: how many problems, in which files."""
        count = len(self.problems)
        where = " and ".join(dict.fromkeys(p.position.file for p in self.problems))
        return f"{count} problem{'s' if count != 1 else ''} in {where}; nothing was deployed."

    def render(self) -> str:
        return "\n".join([*(str(p) for p in self.problems), self.summary()])

    def annotations(self) -> list[Annotation]:
        return [self._annotation(p) for p in self.problems]

    @staticmethod
    def _annotation(problem: Problem) -> Annotation:
        """At its line when it has one; otherwise the message names the file."""
        pos = problem.position
        where = format_path(problem.path)
        message = f"{where + ': ' if where else ''}{problem.message}"
        if pos.line is None:
            return Annotation(f"{pos.file}: {message}")
        return Annotation(message, file=pos.file, line=pos.line, col=pos.col)
