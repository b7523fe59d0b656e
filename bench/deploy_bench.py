"""Wall time and AWS calls of a cold deploy, a no-op redeploy and a teardown, against LocalStack.

    .venv/bin/python bench/deploy_bench.py [--rounds N]

The FDL has 5 functions: two chained through a shared bucket folder, one behind an API, two
on their own. LocalStack is the one at $SCAR_TESTBED_LOCALSTACK_URL, else one started (and
stopped) for the run with the test bed's control script. Each round uses a fresh scope.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope
from scar_testbed import localstack_ctl

STEPS = ("cold deploy", "no-op redeploy", "teardown")


def five_functions(folder: Path, bucket: str) -> Path:
    """The benchmark's FDL: first -> second chained, an API on third, fourth and fifth alone."""
    (folder / "run.sh").write_text("#!/bin/sh\ncat \"$INPUT_FILE_PATH\"\n")

    def item(name: str, inputs: str, outputs: str, **extra: object) -> dict:
        return {"lambda": {"name": name, "init_script": "run.sh",
                           "container": {"image": "busybox:1.36"},
                           "input": [{"storage_provider": "s3", "path": f"{bucket}/{inputs}"}],
                           "output": [{"storage_provider": "s3", "path": f"{bucket}/{outputs}"}]},
                **extra}

    functions = [item("first", "input", "middle"), item("second", "middle", "output"),
                 item("third", "api-in", "api-out", api_gateway={"name": "third"}),
                 item("fourth", "four-in", "four-out"), item("fifth", "five-in", "five-out")]
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump({"functions": {"aws": functions}}))
    return path


def measure(step: Callable[[Aws], object]) -> tuple[float, int, int]:
    aws = Aws()
    started = time.perf_counter()
    step(aws)
    return time.perf_counter() - started, len(aws.calls.calls), len(aws.calls.mutating)


def one_round(fdl_path: Path, scope: Scope) -> dict[str, tuple[float, int, int]]:
    fdl = load_fdl(fdl_path)
    def quiet(_: str) -> None:
        pass

    def deploy(aws: Aws) -> object:
        return engine.deploy(fdl, scope, aws, quiet)

    return {
        "cold deploy": measure(deploy),
        "no-op redeploy": measure(deploy),
        "teardown": measure(lambda aws: engine.teardown(scope, aws, delete_data=True,
                                                        say=quiet)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, int, int]]] = {step: [] for step in STEPS}
    with localstack_ctl.endpoint_for_bench("deploy-bench"), tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            tag = secrets.token_hex(4)
            fdl = five_functions(Path(folder), f"bench-{tag}")
            for step, figures in one_round(fdl, Scope.parse(f"manual:bench-{tag}")).items():
                results[step].append(figures)
    print(f"5 functions (2 chained, 1 with an API), {args.rounds} rounds, median wall time")
    print("| step | wall time | AWS calls | mutating calls |")
    print("|---|---|---|---|")
    for step, figures in results.items():
        seconds = statistics.median(f[0] for f in figures)
        print(f"| {step} | {seconds:.2f} s | {figures[0][1]} | {figures[0][2]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
