"""Both image builders against real registries: daemonless, and the `docker` SDK through
podman's Docker-compatible service. Built images are pulled back with udocker and run:
awslambdaric fetches an event from a stand-in of Lambda's runtime API, the supervisor runs
the init script with the image's /bin/sh, and the answer comes back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scar_ci.cache import cache_dir
from scar_ci.errors import UserError
from scar_ci.package.image.build import build_function_image
from scar_ci.package.image.docker_engine import engine_client
from scar_ci.package.image.registry import (
    OCI_INDEX,
    OCI_MANIFEST,
    Credentials,
    ImageNotFound,
    RegistryAuthError,
    RegistryClient,
    sha256_digest,
)
from scar_ci.package.image.spec import FunctionImageSpec
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import TestImage as BusyboxImage
from scar_testbed.images import build_image, canonical_json, image_manifest
from scar_testbed.podman import PodmanService
from scar_testbed.registry import Registry, start_registry
from scar_testbed.udocker_env import Udocker, udocker_command

pytestmark = pytest.mark.integration
BASE_REPOSITORY = "scar-test/busybox"
SCRIPT = b'echo "hello from the image, $(cat /etc/group | wc -l) groups"\n'
CONFIG = canonical_json({"name": "fn", "runtime": "image", "init_script": "script.sh"})


class RuntimeAPI:
    """Lambda's runtime API as far as one invocation goes: `next` hands out the event once
    (then hangs, as Lambda does between invocations); the answer posted is kept."""

    def __init__(self, event: object) -> None:
        self.event = json.dumps(event).encode()
        self.answer: tuple[str, bytes] | None = None
        self.answered = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        """Stop serving."""
        self.answered.set()
        self.server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api, handed_out = self, threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                if handed_out.is_set():
                    api.answered.wait(60)
                    return
                handed_out.set()
                self.send_response(200)
                deadline = int((time.time() + 120) * 1000)
                for name, value in {
                    "Lambda-Runtime-Aws-Request-Id": "req-1",
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        "arn:aws:lambda:us-east-1:000000000000:function:fn",
                    "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
                    "Content-Type": "application/json",
                    "Content-Length": str(len(api.event)),
                }.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(api.event)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.answer = (self.path, body)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.answered.set()

        return Handler


@pytest.fixture(scope="module")
def base_image(registry: Registry) -> str:
    """The standard busybox test image in the session registry; its reference."""
    image = build_image(STANDARD_IMAGE)
    RegistryClient(registry.url).push_image(BASE_REPOSITORY, "1", image.manifest(), OCI_MANIFEST,
                                            image.blobs)
    return f"{registry.host}/{BASE_REPOSITORY}:1"


@pytest.fixture(scope="module")
def layer_cache() -> Path:
    """A layer cache kept between sessions in the scar-ci cache, as a CI runner's would be:
    layers and assembled runtimes are named by their inputs, so a changed input is built
    anew (test_runtime_assembly.py assembles a runtime from nothing in every session)."""
    return cache_dir() / "testbed" / "image-layers"


def function_spec(base: str, target: str, cache: Path, script: bytes = SCRIPT,
                  **options: object) -> FunctionImageSpec:
    """A spec with the test's script and configuration, without boto3 (not needed here)."""
    return FunctionImageSpec(base=base, target=target, cache_dir=cache,
                             task_files={"script.sh": script, "scar-function.json": CONFIG},
                             distributions=("awslambdaric",), **options)  # type: ignore[arg-type]


def run_function(udocker: Udocker, registry: Registry, ref: str,
                 event: object) -> tuple[str, bytes]:
    """Pull `ref` with udocker, start it with AWS_LAMBDA_RUNTIME_API set, return the answer."""
    name = ref.split("/", 1)[1]
    udocker.pull(name, registry.url)
    container = f"fn-{time.monotonic_ns()}"
    udocker.create(name, container)
    api = RuntimeAPI(event)
    argv = [*udocker_command(), "run", "--nosysdirs", "-v", "/dev", "-v", "/proc",
            f"--env=AWS_LAMBDA_RUNTIME_API={api.address}", "--env=AWS_LAMBDA_FUNCTION_NAME=fn",
            container]
    process = subprocess.Popen(argv, env=udocker.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        answered = api.answered.wait(90)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        output = process.communicate()[0].decode(errors="replace")
        api.close()
        udocker("rm", container, check=False)
    assert answered and api.answer, f"the function never answered; its output:\n{output}"
    return api.answer


def test_built_image_runs_the_supervisor_through_the_runtime_api(
    base_image: str, registry: Registry, udocker: Udocker, layer_cache: Path
) -> None:
    built = build_function_image(
        function_spec(base_image, f"{registry.host}/fn/run", layer_cache), "daemonless")

    assert built.pushed and built.mounted == 1  # the base layer: mounted, not sent again
    assert built.ref.startswith(f"{registry.host}/fn/run:scar-")
    path, body = run_function(udocker, registry, built.ref, {})
    assert path == "/2018-06-01/runtime/invocation/req-1/response", body
    assert "hello from the image, 2 groups" in json.loads(body)


def test_unchanged_rebuild_pushes_nothing_and_a_new_script_only_the_small_layer(
    base_image: str, registry: Registry, layer_cache: Path
) -> None:
    target = f"{registry.host}/fn/rebuild"
    first = build_function_image(function_spec(base_image, target, layer_cache), "daemonless")
    again = build_function_image(function_spec(base_image, target, layer_cache), "daemonless")
    changed = build_function_image(
        function_spec(base_image, target, layer_cache, script=b"echo changed\n"), "daemonless")

    assert (again.ref, again.digest, again.pushed, again.pushed_bytes) == (
        first.ref, first.digest, False, 0)
    assert changed.ref != first.ref
    # sent: the supervisor layer and the config; already there: the base and runtime layers
    assert (changed.uploaded, changed.present) == (2, 2)
    assert changed.pushed_bytes < 64 * 1024 < first.pushed_bytes


def test_push_to_an_ecr_like_registry_copies_the_base_from_another_registry(
    base_image: str, ecr_registry: Registry, layer_cache: Path
) -> None:
    assert ecr_registry.credentials
    login = Credentials(ecr_registry.credentials.username, ecr_registry.credentials.password)
    spec = function_spec(base_image, f"{ecr_registry.host}/scar/fn", layer_cache,
                         target_credentials=login)

    built = build_function_image(spec, "daemonless")

    assert (built.uploaded, built.mounted) == (4, 0)  # base layer streamed across, ours, config
    client = RegistryClient(ecr_registry.url, login)
    manifest = client.get_manifest("scar/fn", built.ref.rsplit(":", 1)[1]).json()
    config = json.loads(client.get_blob("scar/fn", manifest["config"]["digest"]))  # type: ignore[index]
    assert config["config"]["Entrypoint"][-2:] == [
        "awslambdaric", "scar_ci.supervisor.handler.lambda_handler"]
    assert config["config"]["Cmd"] is None
    assert "PATH=/usr/local/bin:/bin" in config["config"]["Env"]
    assert len(config["rootfs"]["diff_ids"]) == 3


def _arm64_variant(busybox: Path) -> BusyboxImage:
    return build_image(replace(STANDARD_IMAGE, tag="arm64", files={"/etc/arch": b"arm64\n"},
                               architecture="arm64", busybox=busybox))


def _push_index(client: RegistryClient, tag: str, platforms: dict[str, BusyboxImage]) -> None:
    entries = []
    for platform, image in platforms.items():
        config = json.loads(image.config)
        config["architecture"] = platform
        config_bytes = canonical_json(config)
        manifest = image_manifest(OCI_MANIFEST, config_bytes, [image.layer_gzip])
        digest = client.push_image(BASE_REPOSITORY, f"{tag}-{platform}", manifest, OCI_MANIFEST,
                                   {**image.blobs, sha256_digest(config_bytes): config_bytes}
                                   ).manifest_digest
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest),
                        "platform": {"os": "linux", "architecture": platform}})
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    client.put_manifest(BASE_REPOSITORY, tag, index, OCI_INDEX)


@pytest.fixture(scope="module")
def multi_arch_base(registry: Registry, arm64_busybox: Path) -> str:
    """A two-platform index (amd64: the standard image, arm64: the same with Debian's arm64
    busybox and /etc/arch) in the registry."""
    client = RegistryClient(registry.url)
    _push_index(client, "multi", {"amd64": build_image(STANDARD_IMAGE),
                                  "arm64": _arm64_variant(arm64_busybox)})
    _push_index(client, "amd64-only", {"amd64": build_image(STANDARD_IMAGE)})
    return f"{registry.host}/{BASE_REPOSITORY}"


def _fake_arm64_runtime(folder: Path) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python3").write_bytes(b"\x7fELF not really")
    (folder / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    return folder


def test_arm64_takes_the_arm64_entry_of_a_multi_arch_index(
    multi_arch_base: str, registry: Registry, layer_cache: Path, tmp_path: Path,
    arm64_busybox: Path
) -> None:
    spec = function_spec(f"{multi_arch_base}:multi", f"{registry.host}/fn/arm", layer_cache,
                         architecture="arm64",
                         runtime_dirs={"arm64": _fake_arm64_runtime(tmp_path / "py")})

    built = build_function_image(spec, "daemonless")

    client = RegistryClient(registry.url)
    manifest = client.get_manifest("fn/arm", built.ref.rsplit(":", 1)[1]).json()
    config = json.loads(client.get_blob("fn/arm", manifest["config"]["digest"]))  # type: ignore[index]
    assert config["architecture"] == "arm64"
    assert manifest["layers"][0]["digest"] == sha256_digest(  # type: ignore[index]
        _arm64_variant(arm64_busybox).layer_gzip)
    assert config["config"]["Entrypoint"][0] == "/opt/scar/runtime/bin/python3"


def test_arm64_image_with_an_assembled_runtime_runs_under_emulation(
    multi_arch_base: str, registry: Registry, arm64_udocker: Udocker, layer_cache: Path
) -> None:
    lines: list[str] = []
    spec = function_spec(f"{multi_arch_base}:multi", f"{registry.host}/fn/arm64", layer_cache,
                         script=b'echo "hello from $(uname -m), $(cat /etc/arch)"\n',
                         architecture="arm64", progress=lines.append)

    built = build_function_image(spec, "daemonless")
    alpine = build_function_image(replace(spec, alpine=True), "daemonless")

    assert any(re.match(r"(assembling the|using the cached) arm64 runtime", line)
               for line in lines), lines
    client = RegistryClient(registry.url)
    manifest = client.get_manifest("fn/arm64", built.ref.rsplit(":", 1)[1]).json()
    config = json.loads(client.get_blob("fn/arm64", manifest["config"]["digest"]))  # type: ignore[index]
    assert (config["architecture"], config["config"]["Entrypoint"][:4]) == ("arm64", [
        "/opt/scar/runtime/lib/ld-linux-aarch64.so.1", "--library-path", "/opt/scar/runtime/lib",
        "/opt/scar/runtime/bin/python3.11"])
    # alpine (musl) bases get the same runtime: it brings its own glibc
    assert (alpine.ref, alpine.pushed) == (built.ref, False)
    path, body = run_function(arm64_udocker, registry, built.ref, {})
    assert path == "/2018-06-01/runtime/invocation/req-1/response", body
    assert "hello from aarch64, arm64" in json.loads(body)


def test_platform_errors_say_what_is_missing(
    multi_arch_base: str, registry: Registry, layer_cache: Path, tmp_path: Path
) -> None:
    target = f"{registry.host}/fn/arm"
    runtime = {"arm64": _fake_arm64_runtime(tmp_path / "py")}
    with pytest.raises(UserError, match=r"no linux/arm64 variant.*offers linux/amd64"):
        build_function_image(function_spec(f"{multi_arch_base}:amd64-only", target, layer_cache,
                                           architecture="arm64", runtime_dirs=runtime),
                             "daemonless")


def test_missing_base_image_and_refused_logins_are_clear_errors(
    base_image: str, registry: Registry, auth_registry: Registry, layer_cache: Path
) -> None:
    with pytest.raises(ImageNotFound, match=r"base image .*no-such/image:1 not found: check "
                                            "container.image"):
        build_function_image(function_spec(f"{registry.host}/no-such/image:1",
                                           f"{registry.host}/fn/x", layer_cache), "daemonless")
    wrong = Credentials("AWS", "not-the-token")
    with pytest.raises(RegistryAuthError, match="refused") as refused:
        build_function_image(function_spec(base_image, f"{auth_registry.host}/fn/x", layer_cache,
                                           target_credentials=wrong), "daemonless")
    assert "not-the-token" not in str(refused.value)
    with pytest.raises(RegistryAuthError, match="requires a login"):
        build_function_image(function_spec(base_image, f"{auth_registry.host}/fn/x",
                                           layer_cache), "daemonless")


def test_create_image_false_uses_the_image_as_it_is(base_image: str, layer_cache: Path) -> None:
    built = build_function_image(FunctionImageSpec(base=base_image, create_image=False))

    assert (built.builder, built.pushed, built.pushed_bytes) == ("none", False, 0)
    assert built.pinned.endswith("@" + built.digest)
    with pytest.raises(ImageNotFound, match="create_image is false"):
        build_function_image(FunctionImageSpec(base=base_image + "-missing", create_image=False))


@pytest.fixture
def docker_host(podman_service: PodmanService, monkeypatch: pytest.MonkeyPatch) -> str:
    """DOCKER_HOST pointing at podman's service for this test."""
    monkeypatch.setenv("DOCKER_HOST", podman_service.docker_host)
    return podman_service.docker_host


def _login(registry: Registry) -> Credentials:
    assert registry.credentials
    return Credentials(registry.credentials.username, registry.credentials.password)


def test_docker_builder_builds_pushes_and_the_image_runs(
    docker_host: str, base_image: str, registry: Registry, auth_registry: Registry,
    udocker: Udocker, layer_cache: Path
) -> None:
    spec = function_spec(base_image, f"{registry.host}/fn/docker", layer_cache)

    built = build_function_image(spec)  # auto: a daemon answers, so docker
    again = build_function_image(spec, "docker")

    assert (built.builder, built.pushed) == ("docker", True)
    assert (again.ref, again.digest, again.pushed, again.pushed_bytes) == (
        built.ref, built.digest, False, 0)
    path, body = run_function(udocker, registry, built.ref, {})
    assert path.endswith("/response"), body
    assert "hello from the image" in json.loads(body)

    secured = function_spec(base_image, f"{auth_registry.host}/fn/docker", layer_cache,
                            target_credentials=_login(auth_registry))
    pushed = build_function_image(secured, "docker")
    manifest = RegistryClient(auth_registry.url, _login(auth_registry)).get_manifest(
        "fn/docker", pushed.ref.rsplit(":", 1)[1])
    assert manifest.digest == pushed.digest


def test_docker_builder_builds_an_arm64_image_with_the_assembled_runtime(
    docker_host: str, multi_arch_base: str, registry: Registry, arm64_udocker: Udocker,
    layer_cache: Path
) -> None:
    spec = function_spec(f"{multi_arch_base}:multi", f"{registry.host}/fn/docker-arm64",
                         layer_cache, script=b'echo "docker-built on $(uname -m)"\n',
                         architecture="arm64")

    built = build_function_image(spec, "docker")

    client = RegistryClient(registry.url)
    manifest = client.get_manifest("fn/docker-arm64", built.ref.rsplit(":", 1)[1]).json()
    config = json.loads(client.get_blob("fn/docker-arm64", manifest["config"]["digest"]))  # type: ignore[index]
    assert (built.builder, config["architecture"]) == ("docker", "arm64")
    assert config["config"]["Entrypoint"][0] == "/opt/scar/runtime/lib/ld-linux-aarch64.so.1"
    path, body = run_function(arm64_udocker, registry, built.ref, {})
    assert path.endswith("/response"), body
    assert "docker-built on aarch64" in json.loads(body)


def test_a_push_error_from_the_daemon_stream_is_one_clear_error(
    docker_host: str, base_image: str, tmp_path: Path, layer_cache: Path
) -> None:
    # a registry podman was not told is plain HTTP: podman's push fails inside the stream
    other = start_registry(tmp_path / "registry")
    try:
        spec = function_spec(base_image, f"{other.host}/fn/refused", layer_cache,
                             env={"GREETING": 'say "hi" for $5'})
        with pytest.raises(UserError, match=r"pushing .*fn/refused:scar-\w+ failed: .*https?"):
            build_function_image(spec, "docker")
    finally:
        other.stop()


def test_no_daemon_means_daemonless_or_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert engine_client(required=False) is None
    with pytest.raises(UserError, match="no Docker Engine answers"):
        engine_client(required=True)
