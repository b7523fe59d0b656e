"""Notices: a value scar-ci takes differently from its letter, said once per process on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from scar_ci.fdl.errors import Problem

_told: set[tuple[str, str]] = set()


def tell(notices: Iterable[Problem]) -> None:
    """Print each notice not printed yet (the same configuration value reaches every function
    and every load: it is said once, at its place)."""
    for notice in notices:
        seen = (str(notice.position), notice.message)
        if seen not in _told:
            _told.add(seen)
            print(f"scar-ci: notice: {notice}", file=sys.stderr)
