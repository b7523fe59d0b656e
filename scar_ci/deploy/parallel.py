"""How many AWS requests the deploy core has in flight at once, and a bounded parallel map.

`$SCAR_CI_CONCURRENCY` (default 16; 1 makes every step sequential) bounds the discovery,
the plan's reads and the apply. boto3's clients are thread-safe and shared (aws/session.py);
throttling answers are retried with backoff by the SDK's standard retry mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from scar_ci.errors import UsageError

CONCURRENCY_VARIABLE = "SCAR_CI_CONCURRENCY"
DEFAULT_CONCURRENCY = 16
T = TypeVar("T")
R = TypeVar("R")


def concurrency() -> int:
    """The bound: `$SCAR_CI_CONCURRENCY`, else 16."""
    text = os.environ.get(CONCURRENCY_VARIABLE, "").strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise UsageError(f"{CONCURRENCY_VARIABLE}={text[:20]!r}: give a whole number from 1 "
                         f"to 256 (requests in flight at once; default {DEFAULT_CONCURRENCY})")
    return int(text)


def parallel_map(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`function` of each item, at most `concurrency()` at once, results in the items' order;
    the first error (in that order) is raised once every call has finished."""
    items = list(items)
    workers = min(concurrency(), len(items))
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scar-ci") as pool:
        futures = [pool.submit(function, item) for item in items]
    return [future.result() for future in futures]
