"""Time to dispatch `scar-ci run`'s fan-out over 200 input files, against LocalStack.

    .venv/bin/python bench/fanout_bench.py [--files N] [--concurrency 1,4,8,10]

One function (tests/integration/command_helpers.py's worker: it upper-cases each file into
the output folder) is deployed with the test bed's busybox image under udocker. The files are
put with `scar-ci put`'s code; the bucket's notification is removed so that only the fan-out
sends events. The function is warmed first; then, for each concurrency, the dispatch time
(first event synchronously, the rest asynchronously) and the time until every output exists.
LocalStack is the one at $SCAR_TESTBED_LOCALSTACK_URL, else one started (and stopped).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import boto3

from scar_ci.aws.session import Aws
from scar_ci.commands.fanout import fan_out, input_objects
from scar_ci.commands.invocation import invoke
from scar_ci.commands.storage import put
from scar_ci.deploy import engine
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope
from scar_testbed import localstack_ctl
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import build_image
from scar_testbed.udocker_env import udocker_environment

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "integration"))
from command_helpers import worker_fdl

OUTPUTS_TIMEOUT_S = 600.0


def outputs(bucket: str) -> int:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="output/")
    return sum(1 for page in pages for item in page.get("Contents", ())
               if not item["Key"].endswith("/"))


def clear_outputs(bucket: str) -> None:
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="output/"):
        for item in page.get("Contents", ()):
            s3.delete_object(Bucket=bucket, Key=item["Key"])


def bench(folder: Path, files: int, levels: list[int]) -> list[tuple[int, float, float]]:
    base = f"bench-{secrets.token_hex(4)}"
    image = folder / "busybox.tar"
    image.write_bytes(build_image(STANDARD_IMAGE).docker_archive())
    env = udocker_environment(folder / "udocker-repo", folder / "udocker-tools")
    fdl = worker_fdl(folder, base, image, env)
    scope, aws = Scope.parse(f"manual:{base}"), Aws()
    engine.deploy(load_fdl(fdl), scope, aws, say=lambda _: None)
    bucket, name = scope.bucket(base), scope.function_name("worker")
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={})
    inputs = folder / "inputs"
    inputs.mkdir()
    for i in range(files):
        (inputs / f"file-{i:04d}.txt").write_text(f"input number {i}\n")
    put(aws, inputs, bucket, "input", say=lambda _: None)
    rows = []
    try:
        invoke(aws, name, {})  # the image loaded once, so that every level starts warm
        for level in levels:
            clear_outputs(bucket)
            objects = input_objects(aws, [(bucket, "input")])
            started = time.perf_counter()
            result = fan_out(aws, name, objects, concurrency=level, say=lambda _: None)
            dispatched = time.perf_counter() - started
            if result.sent != files:
                sys.exit(f"fan-out sent {result.sent} of {files} events: {result.failed[:3]}")
            deadline = time.monotonic() + OUTPUTS_TIMEOUT_S
            while (written := outputs(bucket)) < files:
                if time.monotonic() > deadline:  # a failed invocation writes none
                    sys.exit(f"{written} of {files} outputs after {OUTPUTS_TIMEOUT_S:.0f} s: "
                             "an invocation failed")
                time.sleep(0.2)
            rows.append((level, dispatched, time.perf_counter() - started))
    finally:
        engine.teardown(scope, Aws(), delete_data=True, say=lambda _: None)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--concurrency", default="1,4,8,10")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    with localstack_ctl.endpoint_for_bench("fanout-bench"), tempfile.TemporaryDirectory() as folder:
        rows = bench(Path(folder), args.files, levels)
    print(f"fan-out over {args.files} files (1 synchronous + {args.files - 1} asynchronous)")
    print("| concurrency | dispatch | every output written |")
    print("|---|---|---|")
    for level, dispatched, finished in rows:
        print(f"| {level} | {dispatched:.2f} s ({args.files / dispatched:.0f} events/s) "
              f"| {finished:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
