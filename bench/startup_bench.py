"""Start-up time of `scar-ci --version` and `scar-ci validate` (a 5-function FDL), whole
processes, and what they import.

    .venv/bin/python bench/startup_bench.py [--runs 10]

Prints the median and the best wall time and CPU time (user + system) over `--runs` runs, and
the three modules with the largest cumulative import time (`python -X importtime`).
Targets (issue 17): --version <= 0.1 s, validate <= 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def five_function_fdl(folder: Path) -> Path:
    (folder / "run.sh").write_text("#!/bin/sh\necho hi\n")
    functions = [{"lambda": {"name": f"fn{i}", "init_script": "run.sh",
                             "container": {"image": "busybox:1.36"},
                             "input": [{"storage_provider": "s3", "path": f"bench/in{i}"}],
                             "output": [{"storage_provider": "s3", "path": f"bench/out{i}"}]}}
                 for i in range(5)]
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump({"functions": {"aws": functions}}))
    return path


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `python -m scar_ci ARGV`."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scar_ci", *argv], check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user
                  + after.children_system - before.children_system)


def heaviest_imports(argv: list[str]) -> str:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "scar_ci", *argv],
                          check=True, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    return ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in sorted(rows)[-3:][::-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        fdl = str(five_function_fdl(Path(folder)))
        print("| command | wall median / best | CPU median | largest imports |")
        print("|---|---|---|---|")
        for label, argv in (("--version", ["--version"]),
                            ("validate (5 functions)", ["validate", "-f", fdl])):
            runs = [timed(argv) for _ in range(args.runs)]
            walls = [wall for wall, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            print(f"| {label} | {statistics.median(walls):.3f} s / {min(walls):.3f} s | "
                  f"{cpu:.3f} s | {heaviest_imports(argv)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
