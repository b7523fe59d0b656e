"""Where scar-ci keeps what it makes once and reuses (LocalStack's venv, local mode's state,
assembled image runtimes): $SCAR_CI_CACHE, or ~/.cache/scar-ci."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder ($SCAR_CI_CACHE, or ~/.cache/scar-ci); not created here."""
    return Path(os.environ.get("SCAR_CI_CACHE") or Path.home() / ".cache" / "scar-ci")


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold the lock file `lock` (created if absent) for the block: one process at a time
    builds what several may want at once (two test workers, two CI jobs on one cache)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
