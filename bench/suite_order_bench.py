"""How long `make test`'s two workers take with the files in a given order, from the measured
time of each file: the suite's wall time is the later worker's finish, so a long file handed
out last keeps one worker busy while the other idles.

    .venv/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder --junitxml=suite.xml
    .venv/bin/python bench/suite_order_bench.py suite.xml [more.xml ...] [--workers 2]

Several reports (one file each, say) add up. Prints each file's seconds (setup, call and
teardown of its tests), then the simulated wall time of the workers (each takes the next file
as soon as it is free, as xdist's loadfile does) for xdist's default order (most tests first)
and for tests/conftest.py's (LONGEST_FIRST, then integration, then unit files).
"""

from __future__ import annotations

import argparse
import heapq
import importlib.util
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def file_times(reports: list[Path]) -> tuple[dict[str, float], Counter[str]]:
    """Seconds and number of tests per test file (relative to tests/), from junit reports."""
    seconds: dict[str, float] = {}
    tests: Counter[str] = Counter()
    for report in reports:
        for case in ET.parse(report).iter("testcase"):  # noqa: S314 - pytest wrote it
            name = case.get("classname", "").split(".")
            # classname is tests.integration.test_x[.Class]: the module is up to test_*
            module = next(i for i, part in enumerate(name) if part.startswith("test_"))
            path = "/".join(name[1:module + 1]) + ".py"
            seconds[path] = seconds.get(path, 0.0) + float(case.get("time", 0))
            tests[path] += 1
    return seconds, tests


def wall_time(order: list[str], seconds: dict[str, float], workers: int) -> float:
    """When the last of `workers` finishes, each taking the next file of `order` when free."""
    free = [0.0] * workers
    for path in order:
        heapq.heappush(free, heapq.heappop(free) + seconds[path])
    return max(free)


def conftest_order(paths: list[str], tests: Counter[str]) -> list[str]:
    spec = importlib.util.spec_from_file_location("suite_conftest", TESTS / "conftest.py")
    assert spec and spec.loader
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    rank = {name: i for i, name in enumerate(conftest.LONGEST_FIRST)}
    return sorted(paths, key=lambda p: (rank.get(p, len(rank)), p.startswith("unit/"),
                                        -tests[p]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seconds, tests = file_times(args.reports)
    paths = sorted(seconds)  # pytest's collection order: integration/, then unit/
    for path in sorted(paths, key=lambda p: -seconds[p]):
        print(f"{seconds[path]:7.1f} s  {tests[path]:4d} tests  {path}")
    total = sum(seconds.values())
    print(f"{total:7.1f} s in all, {total / args.workers:.1f} s per worker at best")
    default = sorted(paths, key=lambda p: -tests[p])  # xdist's loadscope reorder (stable)
    for label, order in (("xdist's order (most tests first)", default),
                         ("tests/conftest.py's order", conftest_order(paths, tests))):
        print(f"{wall_time(order, seconds, args.workers):7.1f} s wall, {label}")


if __name__ == "__main__":
    main()
