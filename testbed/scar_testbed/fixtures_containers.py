"""pytest fixtures: udocker with Debian's proot, test images, containers run with an input
file in and output files out, and local registries (with and without basic auth).

A missing binary makes the fixture fail with what to install; nothing is skipped.
"""

from __future__ import annotations

import functools
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from scar_ci.cache import cache_dir
from scar_testbed.debian_image import debian_image
from scar_testbed.emulation import emulation_env, foreign_busybox
from scar_testbed.images import ImageSpec, TestImage, build_image
from scar_testbed.podman import PodmanService, start_podman
from scar_testbed.registry import Credentials, Registry, start_registry
from scar_testbed.udocker_env import Udocker, UdockerResult, udocker_environment

# The standard test image's own program: upper-cases the input file into the output folder.
TO_UPPER = b"""#!/bin/sh
set -e
name=$(basename "$INPUT_FILE_PATH")
echo "to-upper: $name"
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name.upper"
"""
STANDARD_IMAGE = ImageSpec(
    repository="scar-test/busybox",
    tag="1",
    files={"/usr/local/bin/to-upper.sh": TO_UPPER},
    cmd=("/usr/local/bin/to-upper.sh",),
    env={"PATH": "/usr/local/bin:/bin"},
)


@dataclass(frozen=True)
class ContainerRun:
    """A finished container run: udocker's result and the output files."""

    result: UdockerResult
    outputs: dict[str, bytes]

    @property
    def returncode(self) -> int:
        """The container's exit code."""
        return self.result.returncode

    @property
    def stdout(self) -> str:
        """What the container printed on stdout."""
        return self.result.stdout


def run_container(
    udocker: Udocker,
    parent: Path,
    *,
    image: str,
    script: str | None = None,
    input_name: str = "input.txt",
    input_data: bytes = b"",
    env: Mapping[str, str] | None = None,
) -> ContainerRun:
    """Run `image` as SCAR does: the input file and the output folder bound into a fresh
    container, `INPUT_FILE_PATH` and `TMP_OUTPUT_DIR` set, and `script` (run by /bin/sh) or
    else the image's own entrypoint/cmd. Files go to a new folder under `parent`; the
    container is removed afterwards."""
    work_dir = Path(tempfile.mkdtemp(prefix="run-", dir=parent))
    input_dir, output_dir = work_dir / "input", work_dir / "output"
    input_dir.mkdir()
    output_dir.mkdir()
    input_file = input_dir / input_name
    input_file.write_bytes(input_data)
    volumes = [input_dir, output_dir]
    entrypoint, args = None, []
    if script is not None:
        script_path = work_dir / "script.sh"
        script_path.write_text(script)
        volumes.append(work_dir)
        entrypoint, args = "/bin/sh", [str(script_path)]
    name = f"scar-test-{uuid.uuid4().hex[:12]}"
    udocker.create(image, name)
    try:
        result = udocker.run(
            name, *args, volumes=volumes, entrypoint=entrypoint,
            env={"INPUT_FILE_PATH": str(input_file), "TMP_OUTPUT_DIR": str(output_dir),
                 **(env or {})},
        )
    finally:
        udocker("rm", name, check=False)
    outputs = {path.relative_to(output_dir).as_posix(): path.read_bytes()
               for path in sorted(output_dir.rglob("*")) if path.is_file()}
    return ContainerRun(result, outputs)


@pytest.fixture(scope="session")
def udocker_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """udocker's variables for this session (own UDOCKER_DIR, proot wrapper, P1, no download)."""
    base = tmp_path_factory.mktemp("udocker")
    return udocker_environment(base / "repo", base / "tools")


@pytest.fixture(scope="session")
def udocker(udocker_env: dict[str, str]) -> Udocker:
    """A udocker runner using the session's environment."""
    return Udocker(udocker_env)


@pytest.fixture(scope="session")
def arm64_udocker(udocker_env: dict[str, str]) -> Udocker:
    """A udocker runner (the same repository as `udocker`) that runs arm64 images through
    proot with qemu-user-static."""
    proot = Path(udocker_env["UDOCKER_USE_PROOT_EXECUTABLE"])
    return Udocker({**udocker_env, **emulation_env(proot.parent, proot, "arm64")})


@pytest.fixture(scope="session")
def arm64_busybox() -> Path:
    """Debian's busybox-static for arm64 (kept in $SCAR_CI_CACHE/testbed after the first
    fetch)."""
    return foreign_busybox("arm64", cache_dir() / "testbed")


@pytest.fixture(scope="session")
def test_image() -> TestImage:
    """The standard test image: busybox + /usr/local/bin/to-upper.sh as its command."""
    return build_image(STANDARD_IMAGE)


@pytest.fixture(scope="session")
def glibc_image_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard test image's files and command on Debian (dash, coreutils), as a
    docker-save archive: what udocker's Fakechroot mode (F1) can confine."""
    path = tmp_path_factory.mktemp("glibc-image") / "image.tar"
    spec = replace(STANDARD_IMAGE, repository="scar-test/debian",
                   env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    path.write_bytes(debian_image(spec).docker_archive())
    return path


@pytest.fixture(scope="session")
def test_image_archives(
    test_image: TestImage, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The standard test image as files: {"docker": docker-save archive, "oci": OCI archive}."""
    folder = tmp_path_factory.mktemp("images")
    archives = {"docker": folder / "busybox-docker.tar", "oci": folder / "busybox-oci.tar"}
    archives["docker"].write_bytes(test_image.docker_archive())
    archives["oci"].write_bytes(test_image.oci_archive())
    return archives


@pytest.fixture(scope="session")
def loaded_test_image(udocker: Udocker, test_image_archives: dict[str, Path]) -> str:
    """The standard test image loaded into the session's udocker; its `repository:tag`."""
    udocker.load(test_image_archives["docker"])
    return STANDARD_IMAGE.reference


@pytest.fixture
def container_runner(
    udocker: Udocker, loaded_test_image: str, tmp_path: Path
) -> Callable[..., ContainerRun]:
    """`run(script=..., input_name=..., input_data=..., env=..., image=...)` -> ContainerRun
    (see `run_container`), by default on the standard test image."""
    return functools.partial(run_container, udocker, tmp_path, image=loaded_test_image)


def _registry(
    folder: Path, credentials: Credentials | None, *, bearer: bool = False
) -> Iterator[Registry]:
    registry = start_registry(folder, credentials, bearer=bearer)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A docker-registry without auth on a free 127.0.0.1 port."""
    yield from _registry(tmp_path_factory.mktemp("registry"), None)


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A docker-registry with basic auth: ECR-like user `AWS` and a random token."""
    credentials = Credentials("AWS", secrets.token_urlsafe(24))
    yield from _registry(tmp_path_factory.mktemp("auth-registry"), credentials)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A docker-registry wanting Bearer tokens, which its token service gives for a Basic
    login (user `scar` and a random password), as Docker Hub and GHCR do."""
    credentials = Credentials("scar", secrets.token_urlsafe(24))
    yield from _registry(tmp_path_factory.mktemp("token-registry"), credentials, bearer=True)


@pytest.fixture(scope="session")
def podman_service(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry, auth_registry: Registry
) -> Iterator[PodmanService]:
    """podman's Docker-compatible API (`.docker_host` for DOCKER_HOST), allowed to use the
    session's `registry` and `auth_registry` over plain HTTP."""
    yield from serve_podman(tmp_path_factory.mktemp("podman"), [registry, auth_registry])


def serve_podman(folder: Path, registries: list[Registry]) -> Iterator[PodmanService]:
    """A fixture's podman service in `folder`, allowed `registries` over plain HTTP."""
    service = start_podman(folder, [r.host for r in registries])
    try:
        yield service
    finally:
        service.stop()
