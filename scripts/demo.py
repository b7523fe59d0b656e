"""The README's demo: a chained two-function SCAR pipeline on this machine, no AWS account.

    .venv/bin/python scripts/demo.py [--summary FILE] [--times-json FILE]

Validates the example FDL files, starts local mode (`scar-ci local up`), builds a busybox image
here (no registry), deploys examples/pipeline with it, uploads examples/demo/inputs/ to the first
function's input folder, waits for the second function's outputs and checks them, calls its HTTP
API, prints the job summary the action would post (and writes it to FILE), tears everything down
and stops local mode (unless it was already running). Each step prints its duration. A missing or
wrong output fails the demo loudly, with exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import yaml

from scar_ci import cli
from scar_ci.deploy import engine
from scar_ci.errors import UserError
from scar_ci.fdl import load_fdl
from scar_ci.local import mode
from scar_ci.scopes.scope import Scope
from scar_ci.steps.pipeline import function_rows
from scar_ci.steps.summary import SmokeResult, cell, render_summary
from scar_testbed.images import ImageSpec, build_image

REPO = Path(__file__).resolve().parents[1]
PIPELINE = REPO / "examples" / "pipeline"
INPUTS = REPO / "examples" / "demo" / "inputs"
EXAMPLES = sorted([*REPO.glob("examples/*/scar.yaml"), *REPO.glob("examples/scar-docs/*.yaml")])
SCOPE_ARG = "manual:demo"
SCOPE = Scope.parse(SCOPE_ARG)
BUCKET = "scar-pipeline"
IMAGE = ImageSpec(repository="scar-demo/busybox", tag="1")
IMAGE_FILE = "busybox.tar"
HTTP_TEXT = "one two three four five\n"
OUTPUT_TIMEOUT_S = 120
SUMMARY = REPO / "build" / "demo-summary.md"


class DemoFailed(Exception):
    """An output is missing or wrong, or a step failed."""


class Steps:
    """Prints each step and its duration; keeps the durations."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, title: str) -> Iterator[None]:
        print(f"\n==> {title}", flush=True)
        started = time.monotonic()
        try:
            yield
        finally:
            self.times[title] = time.monotonic() - started
            print(f"    ({self.times[title]:.1f} s)", flush=True)


def say(line: str) -> None:
    """Indented progress under the current step."""
    for part in line.splitlines():
        print(f"    {part}", flush=True)


def validate_examples() -> None:
    for path in EXAMPLES:
        if cli.main(["validate", "-f", str(path.relative_to(REPO))]) != 0:
            raise DemoFailed(f"{path} does not validate")


def local_fdl(folder: Path) -> Path:
    """examples/pipeline as it is, but with the image built here as every function's image."""
    (folder / IMAGE_FILE).write_bytes(build_image(IMAGE).docker_archive())
    document = yaml.safe_load((PIPELINE / "scar.yaml").read_text())
    for item in document["functions"]["aws"]:
        settings = item["lambda"]
        settings["container"] = {"image_file": IMAGE_FILE}
        shutil.copy(PIPELINE / settings["init_script"], folder / settings["init_script"])
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    say(f"{IMAGE.reference} ({(folder / IMAGE_FILE).stat().st_size // 1024} KiB) -> {path}")
    return path


def expected_outputs() -> dict[str, tuple[bytes, bytes]]:
    """Per input file: what `shout` and `count` must write."""
    return {path.name: (path.read_bytes().upper(), f"{len(path.read_bytes().split())}\n".encode())
            for path in sorted(INPUTS.iterdir()) if path.is_file()}


def scar_ci(*args: str) -> str:
    """Run a `scar-ci` command in local mode as a user would type it; its output, indented."""
    argv = [*args, "--local"]
    say(f"$ scar-ci {' '.join(argv)}")
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    out.flush()
    printed = out.buffer.getvalue().decode(errors="replace")  # type: ignore[attr-defined]
    say(printed + err.getvalue())
    if code != 0:
        raise DemoFailed(f"scar-ci {' '.join(argv)} exited {code}: {err.getvalue().strip()}")
    return printed


def wait_for_outputs(s3: Any, bucket: str) -> list[tuple[str, str, str]]:
    """Every expected output, checked; rows of (input, shouted, count) for the summary."""
    wanted = {}
    for name, (shouted, count) in expected_outputs().items():
        wanted[f"shouted/{name}"] = shouted
        wanted[f"output/{name}.count"] = count
    found: dict[str, bytes] = {}
    deadline = time.monotonic() + OUTPUT_TIMEOUT_S
    while len(found) < len(wanted) and time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        for key in {item["Key"] for item in listed} & wanted.keys() - found.keys():
            found[key] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            say(f"s3://{bucket}/{key}: {found[key].decode(errors='replace').strip()!r}")
        time.sleep(0.3)
    missing = sorted(wanted.keys() - found.keys())
    wrong = sorted(key for key in found if found[key] != wanted[key])
    if missing or wrong:
        raise DemoFailed("; ".join(
            [f"missing after {OUTPUT_TIMEOUT_S} s: {', '.join(missing)}"] * bool(missing)
            + [f"{key} is {found[key]!r}, expected {wanted[key]!r}" for key in wrong]))
    return [(name, found[f"shouted/{name}"].decode().strip(),
             found[f"output/{name}.count"].decode().strip()) for name in expected_outputs()]


def call_api(fdl_path: Path) -> tuple[str, float]:
    """POST a text to count's API with `scar-ci invoke`; the answer must be its word count."""
    started = time.monotonic()
    text = fdl_path.with_name("words.txt")
    text.write_text(HTTP_TEXT)
    answer = scar_ci("invoke", "-f", str(fdl_path), "-n", "count", "--scope", SCOPE_ARG,
                     "-db", str(text))
    expected = str(len(HTTP_TEXT.split()))
    if answer.strip() != expected:
        raise DemoFailed(f"count's API answered {answer!r} to {HTTP_TEXT!r}, expected {expected}")
    return answer, time.monotonic() - started


def results_table(rows: list[tuple[str, str, str]], bucket: str) -> str:
    lines = [f"**Pipeline run** `s3://{bucket}/input/` → `shout` → `count`:", "",
             "| input | shouted/ | output/ (words) |", "|---|---|---|"]
    lines += [f"| {cell(name)} | {cell(shouted)} | {cell(count)} |"
              for name, shouted, count in rows]
    return "\n".join(lines)


def run(summary_path: Path, steps: Steps) -> None:
    state = mode.state_dir()
    with steps("validate the example FDL files"):
        validate_examples()
    with steps("start local mode (LocalStack + scar-local executor)"):
        was_running = mode.status(state) is not None
        mode.up(state, port=0)
        say(f"endpoint {mode.activate(state)}" + (" (already running)" * was_running))
    try:
        with tempfile.TemporaryDirectory(prefix="scar-demo-") as folder:
            with steps("build the busybox image locally (no registry)"):
                fdl_path = local_fdl(Path(folder))
            try:
                demo_pipeline(fdl_path, summary_path, steps)
            finally:
                with steps(f"tear down scope {SCOPE.label}"):
                    scar_ci("teardown", "--scope", SCOPE_ARG, "--delete-data")
    finally:
        if not was_running:
            with steps("stop local mode"):
                mode.down(state)


def demo_pipeline(fdl_path: Path, summary_path: Path, steps: Steps) -> None:
    bucket = SCOPE.bucket(BUCKET)
    with steps(f"deploy examples/pipeline in scope {SCOPE.label}"):
        say(f"(what `scar-ci deploy -f {fdl_path} --scope {SCOPE_ARG} --local` does)")
        started = time.monotonic()
        fdl = load_fdl(fdl_path)
        plan, urls = engine.deploy(fdl, SCOPE, engine.aws_for(fdl), say=say)
        deploy_seconds = time.monotonic() - started
    with steps(f"upload {len(expected_outputs())} inputs to shout's input folder"):
        scar_ci("put", "-f", str(fdl_path), "-n", "shout", "--scope", SCOPE_ARG,
                "-p", str(INPUTS))
    with steps("wait for shout's and count's outputs, and check them"):
        rows = wait_for_outputs(boto3.client("s3"), bucket)
    count = SCOPE.function_name("count")
    with steps(f"call {count}'s HTTP API"):
        answer, api_seconds = call_api(fdl_path)
    with steps("print and write the job summary the action would post"):
        smoke = SmokeResult(count, f"POST {HTTP_TEXT.strip()!r}", True, api_seconds, answer,
                            f"log group /aws/lambda/{count}")
        markdown = render_summary(
            "demo in local mode", SCOPE.label, rows=function_rows(fdl, SCOPE, plan, urls),
            plan=plan, seconds=deploy_seconds, smoke=smoke, notes=[results_table(rows, bucket)])
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(markdown)
        rule = "-" * 30
        print(f"{rule} job summary ({summary_path}) {rule}\n{markdown}{rule * 2}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", type=Path, default=SUMMARY,
                        help=f"where to write the job summary (default: {SUMMARY})")
    parser.add_argument("--times-json", type=Path, help="also write the step times as JSON")
    args = parser.parse_args(argv)
    steps = Steps()
    started = time.monotonic()
    try:
        run(args.summary, steps)
    except (DemoFailed, UserError) as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        total = time.monotonic() - started
        print("\nstep times:")
        for title, seconds in steps.times.items():
            print(f"  {seconds:6.1f} s  {title}")
        print(f"  {total:6.1f} s  total")
        if args.times_json:
            args.times_json.write_text(json.dumps({"steps": steps.times, "total": total}))
    print(f"\ndemo ok: 2 chained functions ran in local mode; summary in {args.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
