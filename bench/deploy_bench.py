"""Wall time and AWS requests of `scar-ci deploy` (cold, then no-op) and `scar-ci teardown`,
whole CLI processes, against LocalStack seen through the test bed's latency proxy.

    .venv/bin/python bench/deploy_bench.py [--rounds 3] [--delays 0,40] [--sizes 1,5,50]
                                           [--operations]

Each delay (ms added to every request, a stand-in for a real network's round trip) and FDL
size (functions) gets `--rounds` rounds, each in a fresh scope and bucket; the table shows the
median wall time, the requests (all, with the scope lock's 4; mutating, the lock's aside; per
function: those beyond the account-wide part, `ACCOUNT_WIDE` and the lock's, which does not
grow with the functions) and the most requests in flight at once, as the proxy counted them,
and the floor: the requests that must follow one another times the round trip, measured on
the deploy core's own graph and resources by one in-process run of each step per size
(bench/deploy_floor.py). A second table splits each wall time (medians): the CLI process's own
CPU (user + sys of it and its children), the time LocalStack was answering at least one
request (and its time summed over the requests), the time only injected delays were in
flight, and the time no request was in flight at all (the process's start, its CPU, waiter
sleeps, waiting for a core); CPU overlaps the others when the process computes while
requests are out. `--operations` adds the requests per service and operation of the last
round of each step.
The FDL repeats one block of shapes: in every 10 functions two are chained through S3 (one's
output folder is the other's input), one is behind an API, seven are plain.
LocalStack is the one at $SCAR_TESTBED_LOCALSTACK_URL, else one started (and stopped) for the
run with the test bed's control script. scar-ci's modules are byte-compiled first, as `pip
install` leaves them: a work tree run under PYTHONDONTWRITEBYTECODE=1 has no bytecode, and each
CLI process would compile them again (0.13 s of CPU).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from deploy_floor import floors

import scar_ci
from scar_ci.local.engines import machine_engines
from scar_ci.package.engines import ENGINE_ENV
from scar_testbed import localstack_ctl
from scar_testbed.latency_proxy import LatencyProxy, latency_proxy

STEPS = ("cold deploy", "no-op redeploy", "teardown")
SPLIT = ("cpu", "at_localstack", "localstack_summed", "delays_alone", "nothing_in_flight")
SHAPES = ("chain-first", "chain-second", "api") + ("plain",) * 7


@dataclass(frozen=True)
class Figures:
    """One step of one round."""

    seconds: float
    requests: int
    account_wide: int  # of the requests, those that do not grow with the functions
    mutating: int
    max_in_flight: int
    operations: Counter[tuple[str, str]]
    cpu: float  # the CLI process's user + sys (and its children's)
    at_localstack: float  # at least one request at LocalStack
    localstack_summed: float  # LocalStack's time, summed over the requests
    delays_alone: float  # requests in flight, none at LocalStack: only injected delays
    nothing_in_flight: float


def write_fdl(folder: Path, count: int, bucket: str) -> Path:
    """An FDL of `count` functions, shaped as SHAPES says, all on one bucket."""
    (folder / "run.sh").write_text("#!/bin/sh\ncat \"$INPUT_FILE_PATH\"\n")
    functions = []
    for index in range(count):
        shape, name = SHAPES[index % len(SHAPES)], f"fn{index}"
        inputs, outputs = f"{name}-in", f"{name}-out"
        if shape == "chain-second":
            inputs = f"fn{index - 1}-out"
        item: dict[str, object] = {"lambda": {
            "name": name, "init_script": "run.sh", "container": {"image": "busybox:1.36"},
            "input": [{"storage_provider": "s3", "path": f"{bucket}/{inputs}"}],
            "output": [{"storage_provider": "s3", "path": f"{bucket}/{outputs}"}]}}
        if shape == "api":
            item["api_gateway"] = {"name": name}
        functions.append(item)
    path = folder / f"scar-{count}.yaml"
    path.write_text(yaml.safe_dump({"functions": {"aws": functions}}))
    return path


def engines() -> dict[str, str]:
    """The layer's udocker engines ($SCAR_UDOCKER_ENGINE_DIR), else the machine's, as the
    tests give them."""
    return {ENGINE_ENV: os.environ.get(ENGINE_ENV) or str(machine_engines())}


def run_step(proxy: LatencyProxy, argv: list[str]) -> Figures:
    """Run `scar-ci ARGV --json` as its own process through the proxy."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    environment.update(AWS_ENDPOINT_URL=proxy.url, **engines())
    proxy.reset()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "scar_ci", *argv, "--json"], env=environment,
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"scar-ci {' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    counts = proxy.counts()
    in_flight, at_localstack = counts.busy_s(upstream=False), counts.busy_s(upstream=True)
    return Figures(seconds, counts.total, counts.account_wide, counts.mutating,
                   counts.max_in_flight, counts.requests,
                   after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                   at_localstack, counts.upstream_s(), in_flight - at_localstack,
                   max(0.0, seconds - in_flight))


def measured_floors(proxy: LatencyProxy, folder: Path, count: int) -> dict[str, int]:
    """deploy_floor's floors of the FDL of `count` functions, at 0 ms, in a scope of its own."""
    tag, delay = secrets.token_hex(4), proxy.delay_s
    fdl = write_fdl(folder, count, f"bench-{tag}")
    saved = os.environ["AWS_ENDPOINT_URL"]
    os.environ.update(AWS_ENDPOINT_URL=proxy.url, **engines())
    proxy.delay_s = 0
    try:
        return floors(proxy, fdl, f"bench-{tag}")
    finally:
        os.environ["AWS_ENDPOINT_URL"], proxy.delay_s = saved, delay


def one_round(proxy: LatencyProxy, folder: Path, count: int) -> dict[str, Figures]:
    tag = secrets.token_hex(4)
    fdl = str(write_fdl(folder, count, f"bench-{tag}"))
    scope = ["--scope", f"manual:bench-{tag}"]
    return {
        "cold deploy": run_step(proxy, ["deploy", "-f", fdl, *scope]),
        "no-op redeploy": run_step(proxy, ["deploy", "-f", fdl, *scope]),
        "teardown": run_step(proxy, ["teardown", *scope, "--delete-data"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delays", default="0,40", help="ms per request, comma-separated")
    parser.add_argument("--sizes", default="1,5,50", help="functions per FDL, comma-separated")
    parser.add_argument("--operations", action="store_true",
                        help="also print the requests per service and operation")
    args = parser.parse_args()
    compileall.compile_dir(Path(scar_ci.__file__).parent, quiet=1)
    delays = [int(d) for d in args.delays.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, splits, details = [], [], []
    with (localstack_ctl.endpoint_for_bench("deploy-bench") as url,
          tempfile.TemporaryDirectory() as folder, latency_proxy(url) as proxy):
        depths = {size: measured_floors(proxy, Path(folder), size) for size in sizes}
        for delay in delays:
            proxy.delay_s = delay / 1000
            for size in sizes:
                rounds = [one_round(proxy, Path(folder), size) for _ in range(args.rounds)]
                for step in STEPS:
                    figures = [r[step] for r in rounds]
                    last, depth = figures[-1], depths[size][step]
                    seconds = statistics.median(f.seconds for f in figures)
                    per = (last.requests - last.account_wide) / size
                    rows.append(f"| {size} | {step} | {delay} ms | {seconds:.2f} s | "
                                f"{last.requests} | {per:.1f} + {last.account_wide} | "
                                f"{last.mutating} | {last.max_in_flight} | "
                                f"{depth} x {delay} ms = {depth * delay / 1000:.2f} s |")
                    parts = (statistics.median(getattr(f, part) for f in figures)
                             for part in SPLIT)
                    splits.append(f"| {size} | {step} | {delay} ms | {seconds:.2f} s | "
                                  + " | ".join(f"{part:.2f} s" for part in parts) + " |")
                    details.append((size, step, delay, last.operations))
    print(f"whole CLI processes (scar-ci byte-compiled), median of {args.rounds} rounds; "
          "SHAPES per 10 functions: "
          "2 chained through S3, 1 behind an API, 7 plain")
    print("| functions | step | delay | wall time | requests | per function + account-wide "
          "| mutating | max in flight | floor (depth x delay) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| functions | step | delay | wall time | CLI CPU | at LocalStack | LocalStack "
          "summed | delays alone | nothing in flight |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(splits))
    if args.operations:
        for size, step, delay, operations in details:
            if delay == delays[-1]:
                print(f"\n{size} functions, {step}:")
                for (service, operation), n in sorted(operations.items()):
                    print(f"  {n:5}  {service} {operation}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
