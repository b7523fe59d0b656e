"""Build-and-push time and bytes sent of a function-image builder: a first build, a rebuild
with only the script changed, and a rebuild with nothing changed; then, for the other
architecture (arm64 on an x86_64 machine): a first build whose runtime is assembled from
nothing (Debian package lists, packages and wheels downloaded), a build with the runtime
cached but no layer cache, and a rebuild with only the script changed.

Local registry (Debian's docker-registry), busybox test image as the base (Debian's
busybox-static of the other architecture for the second table), the full runtime
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
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from scar_ci.package.image.build import build_function_image
from scar_ci.package.image.builder_choice import Builder
from scar_ci.package.image.registry import OCI_MANIFEST, RegistryClient
from scar_ci.package.image.runtime import ARCHITECTURES, host_architecture
from scar_ci.package.image.spec import BuiltImage, FunctionImageSpec
from scar_testbed.emulation import foreign_busybox
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import ImageSpec, build_image
from scar_testbed.podman import start_podman
from scar_testbed.registry import Registry, start_registry

OTHER = "arm64" if host_architecture() == "x86_64" else "x86_64"
Case = tuple[str, FunctionImageSpec, Callable[[], object]]


def print_cases(cases: list[Case], builder: Builder) -> None:
    """One line per case; each case's preparation runs untimed before it."""
    print(f"{'case':44} {'seconds':>8} {'bytes sent':>12} {'blobs sent':>10}")
    for name, case, prepare in cases:
        prepare()
        started = time.perf_counter()
        built: BuiltImage = build_function_image(case, builder)
        seconds = time.perf_counter() - started
        print(f"{name:44} {seconds:8.2f} {built.pushed_bytes:12,} {built.uploaded:10}")


def push_base(registry: Registry, repository: str, image: ImageSpec) -> str:
    """Push a test image; its reference."""
    base = build_image(image)
    RegistryClient(registry.url).push_image(repository, "1", base.manifest(), OCI_MANIFEST,
                                            base.blobs)
    return f"{registry.host}/{repository}:1"


def main() -> None:
    """Print one table per architecture."""
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
            def case(name: str, base: str, script: bytes, cache: Path, architecture: str,
                     prepare: Callable[[], object] = lambda: None) -> Case:
                return name, FunctionImageSpec(
                    base=base, target=f"{target.host}/bench/fn", architecture=architecture,
                    task_files={"script.sh": script}, cache_dir=cache), prepare

            own = host_architecture()
            host = push_base(source, "bench/base", STANDARD_IMAGE)
            print(f"{builder} builder, {own} (the machine's own Python):")
            print_cases([case("first build (cold layer cache)", host, b"1\n", root / "l", own),
                         case("rebuild, only the script changed", host, b"2\n", root / "l", own),
                         case("rebuild, nothing changed", host, b"2\n", root / "l", own)],
                        builder)

            debian = ARCHITECTURES[OTHER]
            other = push_base(source, f"bench/base-{debian}", replace(
                STANDARD_IMAGE, architecture=debian,
                busybox=foreign_busybox(debian, root / "testbed")))
            cache = root / "other"  # layers at the top, the assembled runtime in runtimes/
            print(f"\n{builder} builder, {OTHER} (runtime assembled from Debian packages and "
                  "wheels):")
            print_cases([
                case("first build (runtime assembled from nothing)", other, b"1\n", cache,
                     OTHER),
                case("runtime cached, cold layer cache", other, b"2\n", cache, OTHER,
                     lambda: [path.unlink() for path in cache.glob("*.*")]),
                case("rebuild, only the script changed", other, b"3\n", cache, OTHER),
            ], builder)
        finally:
            if podman:
                podman.stop()
            source.stop()
            target.stop()


if __name__ == "__main__":
    main()
