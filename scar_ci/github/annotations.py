"""Workflow-command annotations (`::error file=...,line=...::`) when running under Actions."""

from __future__ import annotations

import os
from collections.abc import Iterable

from scar_ci.errors import Annotation


def in_actions() -> bool:
    """True when running as a step of a GitHub Actions job."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def annotate(annotations: Iterable[Annotation]) -> None:
    """Emit one `::error` workflow command per annotation, escaped, when under Actions."""
    if not in_actions():
        return
    from actions_toolkit import core

    for a in annotations:
        props = {k: v for k, v in (("file", a.file), ("start_line", a.line),
                                   ("start_column", a.col)) if v is not None}
        core.error(a.message, **props)
