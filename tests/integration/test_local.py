"""`scar-ci local up|down|status` and `--local`, run as a user runs them (the installed
`scar-ci` in a subprocess): the errors a user can meet, and a local instance that other verbs
target with no credentials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scar_ci.package.image.registry import OCI_MANIFEST, RegistryClient
from scar_testbed.fixtures_containers import STANDARD_IMAGE
from scar_testbed.images import build_image

SCAR_CI = str(Path(sys.executable).with_name("scar-ci"))


def scar_ci(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([SCAR_CI, *args], capture_output=True, text=True, env=env, timeout=240)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user's environment: own local state folder, nothing pointing at AWS; the caller's
    cache (SCAR_CI_CACHE) is kept, so a work tree testing its own executor never installs it
    into the default cache that other work trees use."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SCAR_CI_"))}
    cache = {"SCAR_CI_CACHE": os.environ["SCAR_CI_CACHE"]} if "SCAR_CI_CACHE" in os.environ else {}
    return {**clean, **cache, "SCAR_CI_LOCAL_DIR": str(tmp_path / "local")}


def assert_one_clear_error(done: subprocess.CompletedProcess, *parts: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    for part in parts:
        assert part in done.stderr


def test_without_proot_up_says_what_to_install(env, tmp_path):
    done = scar_ci("local", "up", env={**env, "PATH": str(tmp_path)})
    assert_one_clear_error(done, "proot is missing", "apt-get install proot")


def test_without_python_312_up_says_what_to_install(env, tmp_path):
    only_proot = tmp_path / "bin"
    only_proot.mkdir()
    (only_proot / "proot").symlink_to("/usr/bin/proot")
    done = scar_ci("local", "up", env={**env, "PATH": str(only_proot),
                                       "SCAR_CI_CACHE": str(tmp_path / "cache")})
    assert_one_clear_error(done, "LocalStack needs Python >= 3.12", "pyenv install 3.13",
                           "SCAR_CI_LOCALSTACK_PYTHON")


def test_without_udocker_up_says_what_to_install(env, tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True)
    python = str(tmp_path / "bare" / "bin" / "python")
    done = scar_ci("local", "up", env={**env, "SCAR_CI_FUNCTION_PYTHON": python})
    assert_one_clear_error(done, f"boto3 and udocker are missing from {python}, the Python "
                           "that runs functions", f"{python} -m pip install boto3 udocker==1.3.17")


def test_a_taken_port_is_named_with_what_to_do(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = scar_ci("local", "up", "--port", port, env=env)
    assert_one_clear_error(done, f"port {port} on 127.0.0.1 is already in use",
                           "scar-ci local up --port N")


def test_local_verbs_without_local_mode_running_say_how_to_start_it(env):
    assert scar_ci("local", "status", env=env).returncode == 3
    for args, extra in ((["--local", "ls"], {}), (["ls", "--local"], {}),
                        (["ls"], {"SCAR_CI_LOCAL": "1"})):
        done = scar_ci(*args, env={**env, **extra})
        assert_one_clear_error(done, "local mode is not running", "scar-ci local up")


@pytest.mark.integration
def test_up_status_down_and_other_verbs_target_it_without_credentials(env, tmp_path):
    state = tmp_path / "local"
    up = scar_ci("local", "up", "--port", "0", env=env)
    assert up.returncode == 0, up.stderr
    url = up.stdout.strip()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert "running at" in up.stderr
        assert scar_ci("local", "status", env=env).stdout.startswith(f"running at {url}")
        again = scar_ci("local", "up", env=env)
        assert again.stdout.strip() == url and "already running" in again.stderr
        # a profile that does not exist and a per-service endpoint elsewhere are ignored
        elsewhere = {**env, "AWS_PROFILE": "no-such-profile",
                     "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}
        for args, extra in ((["--local", "ls"], {}), (["ls"], {"SCAR_CI_LOCAL": "1"})):
            listed = scar_ci(*args, env={**elsewhere, **extra})
            assert listed.returncode == 0, listed.stderr
        plan = scar_ci("plan", "--local", "-f", "examples/pipeline/scar.yaml",
                       "--scope", "pr-7", env=elsewhere)
        assert plan.returncode == 0, plan.stderr
        assert "+ create  function   shout--pr-7" in plan.stdout
        pid = int((state / "pid").read_text())
    finally:
        down = scar_ci("local", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert scar_ci("local", "status", env=env).returncode == 3
    assert not alive(pid)


def alive(pid: int) -> bool:
    """Running (a zombie left for a reaper that is not us does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.integration
def test_deploy_local_of_an_image_function_builds_pushes_and_runs_it(env, tmp_path):
    """`runtime: image` with --local: local mode's ECR API (moto) and registry take the image,
    LocalStack's executor pulls and runs it; `down` stops them all."""
    state = tmp_path / "local"
    up = scar_ci("local", "up", "--port", "0", env=env)
    assert up.returncode == 0, up.stderr
    try:
        status = scar_ci("local", "status", env=env).stdout
        registry = status.split("image registry at ")[1].split()[0]
        assert "ECR API at http://127.0.0.1:" in status
        image = build_image(STANDARD_IMAGE)
        RegistryClient(registry).push_image("scar-test/busybox", "1", image.manifest(),
                                            OCI_MANIFEST, image.blobs)
        (tmp_path / "hello.sh").write_text('echo "hello from the image, MODE=$MODE"\n')
        fdl = tmp_path / "scar.yaml"
        fdl.write_text(yaml.safe_dump({"functions": {"aws": [{"lambda": {
            "name": "hello", "runtime": "image", "init_script": "hello.sh", "memory": 512,
            "container": {"image": f"{registry.removeprefix('http://')}/scar-test/busybox:1",
                          "environment": {"Variables": {"MODE": "local"}}}}}]}}))
        scope = ["--scope", f"manual:t{os.getpid()}"]

        deployed = scar_ci("deploy", "--local", "-f", str(fdl), *scope, env=env)
        assert deployed.returncode == 0, deployed.stderr + deployed.stdout
        ran = scar_ci("run", "--local", "-f", str(fdl), *scope, "-s", str(tmp_path / "hello.sh"),
                      env=env)
        assert (ran.returncode, ran.stdout) == (0, "hello from the image, MODE=local\n"), ran.stderr
        torn = scar_ci("teardown", "--local", *scope, "--delete-data", env=env)
        assert torn.returncode == 0, torn.stderr
        pids = [int((state / "pid").read_text()),
                *json.loads((state / "image-services.json").read_text())["pids"]]
    finally:
        down = scar_ci("local", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in pids)
