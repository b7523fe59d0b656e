"""Benchmark of `make demo`'s driver: each step's time and the total, median of N rounds.

    .venv/bin/python bench/demo_bench.py [--rounds 3]

Each round runs scripts/demo.py in a subprocess with its own local-mode state folder, so each
starts and stops its own LocalStack, as `make demo` on a fresh checkout does (LocalStack's venv
is built beforehand by `make setup`; its first build is timed by docs/local.md separately).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_round(folder: Path) -> dict:
    times = folder / "times.json"
    env = {**os.environ, "SCAR_CI_LOCAL_DIR": str(folder / "local")}
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--summary", str(folder / "s.md"),
         "--times-json", str(times)],
        env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"the demo failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(times.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="demo-bench-") as folder:
            rounds.append(one_round(Path(folder)))
    print(f"scripts/demo.py, {args.rounds} rounds, median (min-max)")
    print("| step | time |")
    print("|---|---|")
    for step in rounds[0]["steps"]:
        figures = [r["steps"][step] for r in rounds]
        print(f"| {step} | {statistics.median(figures):.2f} s "
              f"({min(figures):.2f}-{max(figures):.2f}) |")
    totals = [r["total"] for r in rounds]
    print(f"| **total** | **{statistics.median(totals):.1f} s** "
          f"({min(totals):.1f}-{max(totals):.1f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
