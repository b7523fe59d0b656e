"""A bounded parallel map (the discoveries' per-candidate reads) and the pool behind it and
the deploy core's steps, which Ctrl-C leaves at once (`worker_pool`, `Completions`).

`$SCAR_CI_CONCURRENCY` (default 16; 1 makes every step sequential; `aws.session.concurrency`)
bounds the discovery, the plan's reads and the apply, and each `Aws` holds the requests in
flight to it, so a parallel step inside another stays within it. boto3's clients are
thread-safe and shared (aws/session.py); throttling answers are retried with backoff by the
SDK's standard retry mode.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from scar_ci.aws.session import concurrency

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`function` of each item, at most `concurrency()` at once, results in the items' order;
    the first error (in that order) is raised once every call has finished."""
    items = list(items)
    workers = min(concurrency(), len(items))
    if workers <= 1:
        return [function(item) for item in items]
    with worker_pool(workers) as pool:
        futures = [pool.submit(function, item) for item in items]
    return [future.result() for future in futures]


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of `workers` threads, whose calls are waited for on leaving the block (an error
    in it included, as ThreadPoolExecutor's own exit does); after Ctrl-C (KeyboardInterrupt,
    there or while waiting) the queued calls are cancelled and the running ones not waited
    for, so the interruption is reported at once."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scar-ci")
    try:
        try:
            yield pool
        except KeyboardInterrupt:
            raise
        except BaseException:
            pool.shutdown()
            raise
        pool.shutdown()
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


class Completions:
    """Calls run in `pool`, their futures handed back as each one finishes (`next_done`).

    Through a queue, not `concurrent.futures.wait` or `as_completed`: those take each future's
    lock in turn, and a KeyboardInterrupt among those acquisitions leaves locks taken, so the
    worker finishing such a future hangs, and with it the process's exit."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._done: queue.Queue[Future[Any]] = queue.Queue()

    def submit(self, call: Callable[[], R]) -> Future[R]:
        """Run `call` in the pool."""
        future = self._pool.submit(call)
        future.add_done_callback(self._done.put)
        return future

    def next_done(self) -> Future[Any]:
        """The next future to finish (those finished already first), waiting for it."""
        return self._done.get()


class Once:
    """`call` run once for all its callers, whichever threads: the first runs it, the others
    wait for its outcome (the same error raised to each when it failed)."""

    def __init__(self, call: Callable[[], object]) -> None:
        self._call = call
        self._lock = threading.Lock()
        self._ran = False
        self._error: BaseException | None = None

    def __call__(self) -> None:
        with self._lock:
            if not self._ran:
                try:
                    self._call()
                except BaseException as error:
                    self._error = error
                self._ran = True
        if self._error is not None:
            raise self._error
