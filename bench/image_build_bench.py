"""Build-and-push time and bytes sent of a function-image builder: a first build, a rebuild
with only the script changed, and a rebuild with nothing changed.

Local registry (Debian's docker-registry), busybox test image as the base, the full runtime
(awslambdaric and boto3). The base lives in another registry than the target, so the first
build also streams the base layer across. Run: .venv/bin/python bench/image_build_bench.py
[--builder docker] (docker: through podman's Docker-compatible service, started here; podman
reports no bytes or blobs sent, so those columns are 0).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from scar_ci.package.image_build import build_function_image
from scar_ci.package.image_builder import Builder
from scar_ci.package.image_spec import BuiltImage, FunctionImageSpec
from scar_ci.package.registry import OCI_MANIFEST, RegistryClient
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import build_image
from scar_testbed.podman import start_podman
from scar_testbed.registry import start_registry


def timed(spec: FunctionImageSpec, builder: Builder) -> tuple[BuiltImage, float]:
    """Build `spec` with `builder`; the result and the seconds it took."""
    started = time.perf_counter()
    built = build_function_image(spec, builder)
    return built, time.perf_counter() - started


def main() -> None:
    """Print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builder", choices=("daemonless", "docker"), default="daemonless")
    builder = parser.parse_args().builder
    with tempfile.TemporaryDirectory(prefix="image-bench-") as folder:
        root = Path(folder)
        source, target = start_registry(root / "source"), start_registry(root / "target")
        podman = None
        if builder == "docker":
            podman = start_podman(root / "podman", [source.host, target.host])
            os.environ["DOCKER_HOST"] = podman.docker_host
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
            print(f"{builder} builder")
            print(f"{'case':36} {'seconds':>8} {'bytes sent':>12} {'blobs sent':>10}")
            for name, case in cases:
                built, seconds = timed(case, builder)
                print(f"{name:36} {seconds:8.2f} {built.pushed_bytes:12,} {built.uploaded:10}")
        finally:
            if podman:
                podman.stop()
            source.stop()
            target.stop()


if __name__ == "__main__":
    main()
