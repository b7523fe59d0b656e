"""Build-and-push time and bytes sent of the daemonless function-image builder: a first build,
a rebuild with only the script changed, and a rebuild with nothing changed.

Local registry (Debian's docker-registry), busybox test image as the base, the full runtime
(awslambdaric and boto3). The base lives in another registry than the target, so the first
build also streams the base layer across. Run: .venv/bin/python bench/image_build_bench.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from scar_ci.package.image_build import build_function_image
from scar_ci.package.image_spec import BuiltImage, FunctionImageSpec
from scar_ci.package.registry import OCI_MANIFEST, RegistryClient
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import build_image
from scar_testbed.registry import start_registry


def timed(spec: FunctionImageSpec) -> tuple[BuiltImage, float]:
    """Build `spec` daemonless; the result and the seconds it took."""
    started = time.perf_counter()
    built = build_function_image(spec, "daemonless")
    return built, time.perf_counter() - started


def main() -> None:
    """Print one line per case."""
    with tempfile.TemporaryDirectory(prefix="image-bench-") as folder:
        root = Path(folder)
        source, target = start_registry(root / "source"), start_registry(root / "target")
        try:
            base = build_image(STANDARD_IMAGE)
            RegistryClient(source.url).push_image("bench/base", "1", base.manifest(),
                                                  OCI_MANIFEST, base.blobs)

            def spec(script: bytes) -> FunctionImageSpec:
                return FunctionImageSpec(base=f"{source.host}/bench/base:1",
                                         target=f"{target.host}/bench/fn",
                                         task_files={"script.sh": script},
                                         cache_dir=root / "layers")

            cases = [("first build (cold layer cache)", spec(b"echo one\n")),
                     ("rebuild, only the script changed", spec(b"echo two\n")),
                     ("rebuild, nothing changed", spec(b"echo two\n"))]
            print(f"{'case':36} {'seconds':>8} {'bytes sent':>12} {'blobs sent':>10}")
            for name, case in cases:
                built, seconds = timed(case)
                print(f"{name:36} {seconds:8.2f} {built.pushed_bytes:12,} {built.uploaded:10}")
        finally:
            source.stop()
            target.stop()


if __name__ == "__main__":
    main()
