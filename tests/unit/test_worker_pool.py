"""aws.parallel's pool and completions after Ctrl-C: nothing queued runs, nothing running is
waited for."""

from __future__ import annotations

import threading

import pytest

from scar_ci.aws.parallel import Completions, worker_pool


def test_ctrl_c_cancels_the_queued_calls_and_does_not_wait_for_the_running_one():
    started, release = threading.Event(), threading.Event()

    def held() -> None:
        started.set()
        release.wait(timeout=30)

    try:
        with pytest.raises(KeyboardInterrupt), worker_pool(1) as pool:
            running = pool.submit(held)
            queued = pool.submit(lambda: None)
            assert started.wait(timeout=30)
            raise KeyboardInterrupt
        assert running.running()  # left running: the block was left while it was held
        assert queued.cancelled()
    finally:
        release.set()


def test_an_error_in_the_block_waits_for_the_running_calls_first():
    release = threading.Event()
    with pytest.raises(ValueError), worker_pool(1) as pool:
        running = pool.submit(lambda: release.wait(timeout=30) and "ended")
        threading.Timer(0.2, release.set).start()
        raise ValueError("a bug in the caller")
    assert running.result(timeout=0) == "ended"  # done by the time the error got out


def test_completions_come_back_in_the_order_they_finish():
    second_may_end = threading.Event()
    with worker_pool(2) as pool:
        calls = Completions(pool)
        first = calls.submit(lambda: second_may_end.wait(timeout=30) and "first")
        second = calls.submit(lambda: "second")
        assert calls.next_done() is second
        second_may_end.set()
        assert calls.next_done() is first
    assert (first.result(), second.result()) == ("first", "second")
