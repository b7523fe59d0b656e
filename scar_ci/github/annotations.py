"""Workflow-command annotations (`::error file=..,line=..,col=..::`) when running under Actions."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from scar_ci.errors import Annotation
from scar_ci.github.workflow import command, in_actions


def annotate(annotations: Iterable[Annotation]) -> None:
    """Emit one `::error` workflow command per annotation, escaped, when under Actions.

    Only the properties that are known are written (GitHub's names: file, line, col), and
    the file is made relative to the workspace so that the annotation lands on the diff.
    """
    if not in_actions():
        return
    for a in annotations:
        props = {k: v for k, v in (("file", _workspace_relative(a.file)), ("line", a.line),
                                   ("col", a.col)) if v is not None}
        command("error", props, a.message)


def _workspace_relative(file: str | None) -> str | None:
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if file is None or not workspace:
        return file
    path = Path(file).absolute()
    root = Path(workspace).absolute()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else file
