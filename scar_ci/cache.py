"""Where scar-ci keeps what it makes once and reuses (LocalStack's venv, local mode's state,
assembled image runtimes): $SCAR_CI_CACHE, or ~/.cache/scar-ci."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder ($SCAR_CI_CACHE, or ~/.cache/scar-ci); not created here."""
    return Path(os.environ.get("SCAR_CI_CACHE") or Path.home() / ".cache" / "scar-ci")
