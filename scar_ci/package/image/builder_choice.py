"""Which builder makes function images: `auto`, `docker` or `daemonless`, as given on the
command line or the action input, else by `$SCAR_CI_IMAGE_BUILDER`, else auto.

Kept apart from the builders so the command line can offer the choice without loading them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, cast

from scar_ci.errors import UsageError

Builder = Literal["auto", "docker", "daemonless"]
BUILDERS: tuple[Builder, ...] = ("auto", "docker", "daemonless")
BUILDER_VARIABLE = "SCAR_CI_IMAGE_BUILDER"


def chosen_builder(given: str | None, env: Mapping[str, str] | None = None) -> Builder:
    """`given` (command line, action input) when set, else `$SCAR_CI_IMAGE_BUILDER`, else
    auto; a value that is none of BUILDERS is a UsageError naming where it came from."""
    if given:
        where, value = "image builder", given
    else:
        where = f"environment variable {BUILDER_VARIABLE}"
        value = (os.environ if env is None else env).get(BUILDER_VARIABLE, "").strip() or "auto"
    if value not in BUILDERS:
        raise UsageError(f"{where}: {value[:40]!r} is not one of {', '.join(BUILDERS)}")
    return cast(Builder, value)
