"""Branch names whose stage names collide: a birthday search under a narrowed stage hash."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager

from scar_ci.scopes import scope as scope_module
from scar_ci.scopes.scope import Scope, ScopeKind


@contextmanager
def stage_hash_width(width: int) -> Iterator[None]:
    """Stage names hashed with `width` hex digits while inside (a birthday search over
    2**(2 * width) names then finds a collision in milliseconds, as the 8 digits scar-ci used
    did in seconds)."""
    saved = scope_module.STAGE_HASH_LEN, scope_module._HASH_TAIL
    scope_module.STAGE_HASH_LEN = width
    scope_module._HASH_TAIL = re.compile(rf"(?:^|-)[0-9a-f]{{{width}}}$")
    try:
        yield
    finally:
        scope_module.STAGE_HASH_LEN, scope_module._HASH_TAIL = saved


def colliding_branches(prefix: str) -> tuple[str, str, str]:
    """Two branch names starting with `prefix` that get the same stage name under the current
    hash width, and that stage (their common prefix fills the kept part of the slug)."""
    seen: dict[str, str] = {}
    for i in itertools.count():
        name = f"{prefix}/collision-search-{i}"
        stage = Scope.named(ScopeKind.BRANCH, name).stage
        if stage in seen:
            return seen[stage], name, stage
        seen[stage] = name
    raise AssertionError("unreachable")
