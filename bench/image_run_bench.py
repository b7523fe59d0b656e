"""Container-image functions in LocalStack's Lambda (scar-local executor): pull, cold, warm.

    .venv/bin/python bench/image_run_bench.py [--rounds N]

Per round: a function image built by scar-ci (the busybox test image as base, a script that
differs per round, so a new digest) in a plain local registry, then `create_function` with
`PackageType=Image` until Active (the executor pulls, loads and creates the container), the
first invocation (a new execution environment: udocker start, awslambdaric and the
supervisor), warm invocations (median), and the first invocation of a new version (a new
environment, the image from the executor's cache). Uses $SCAR_TESTBED_LOCALSTACK_URL when
set (it must pull anonymously), else starts a LocalStack of its own.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from scar_ci.package.image.build import build_function_image
from scar_ci.package.image.registry import OCI_MANIFEST, RegistryClient
from scar_ci.package.image.spec import FunctionImageSpec, canonical_json
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import build_image
from scar_testbed.lambda_functions import ROLE
from scar_testbed.localstack_ctl import endpoint_for_bench
from scar_testbed.registry import start_registry

CONFIG = canonical_json({"name": "bench", "runtime": "image", "init_script": "script.sh"})
EVENT = json.dumps({"script": base64.b64encode(b"echo hi").decode()})


def wait_until_active(lambda_: Any, name: str) -> None:
    """Poll until the function left Pending; fail loudly if it did not become Active."""
    while (config := lambda_.get_function(FunctionName=name)["Configuration"])[
            "State"] == "Pending":
        time.sleep(0.05)
    if config["State"] != "Active":
        raise SystemExit(f"{name}: {config['State']}: {config.get('StateReason')}")


def timed_invoke(lambda_: Any, name: str) -> float:
    """Seconds of one synchronous invocation that must succeed."""
    started = time.perf_counter()
    answer = lambda_.invoke(FunctionName=name, Payload=EVENT)
    seconds = time.perf_counter() - started
    if answer.get("FunctionError"):
        raise SystemExit(f"{name} failed: {answer['Payload'].read()!r}")
    return seconds


def one_round(lambda_: Any, registry_host: str, base: str, layers: Path, n: int
              ) -> dict[str, float]:
    """Build, create, invoke; the times of one round."""
    built = build_function_image(FunctionImageSpec(
        base=base, target=f"{registry_host}/bench/run", cache_dir=layers,
        task_files={"script.sh": f"echo round {n}\n".encode(), "scar-function.json": CONFIG}),
        "daemonless")
    name = f"scar-bench-image-{time.time_ns()}"
    started = time.perf_counter()
    lambda_.create_function(FunctionName=name, Role=ROLE, PackageType="Image",
                            Code={"ImageUri": built.pinned}, Timeout=60, MemorySize=512)
    wait_until_active(lambda_, name)
    times = {"create_function to Active (pull, load, create)": time.perf_counter() - started,
             "first invocation (new environment)": timed_invoke(lambda_, name)}
    times["warm invocation (median of 5)"] = statistics.median(
        timed_invoke(lambda_, name) for _ in range(5))
    lambda_.update_function_configuration(FunctionName=name, Description="new version")
    lambda_.get_waiter("function_updated_v2").wait(FunctionName=name)
    times["first invocation of a new version (cached image)"] = timed_invoke(lambda_, name)
    lambda_.delete_function(FunctionName=name)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="image-run-bench-") as folder, \
            endpoint_for_bench("image-run-bench"):
        registry = start_registry(Path(folder, "registry"))
        try:
            image = build_image(STANDARD_IMAGE)
            RegistryClient(registry.url).push_image(
                "scar-test/busybox", "1", image.manifest(), OCI_MANIFEST, image.blobs)
            base = f"{registry.host}/scar-test/busybox:1"
            lambda_ = boto3.client("lambda")
            results = [one_round(lambda_, registry.host, base, Path(folder, "layers"), n)
                       for n in range(rounds)]
        finally:
            registry.stop()
    print(f"image functions in the scar-local executor, {rounds} rounds: median (min-max)")
    for step in results[0]:
        values = [r[step] for r in results]
        print(f"  {step:52s} {statistics.median(values):6.2f} s "
              f"({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
