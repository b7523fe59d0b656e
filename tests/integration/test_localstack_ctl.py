"""The LocalStack control script: clear errors, and start / status / stop that leave nothing."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scar_ci.local import image_services, localstack
from scar_testbed import localstack_ctl
from scar_testbed.fixtures_aws import LocalStack
from scar_testbed.lambda_functions import PROBE, deploy, invoke

CTL = [sys.executable, localstack_ctl.__file__]


def ctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CTL, *args], capture_output=True, text=True, env=env, timeout=300)


def test_setup_without_python_312_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "SCAR_CI_CACHE": str(tmp_path)}

    done = ctl("setup", env=env)

    assert done.returncode == 1
    assert "LocalStack needs Python >= 3.12" in done.stderr
    assert "pyenv install 3.13" in done.stderr
    assert "Traceback" not in done.stderr


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.integration
def test_start_status_stop_leave_no_process_behind(tmp_path: Path, unique_name: str) -> None:
    state = ["--state-dir", str(tmp_path)]
    started = ctl("start", *state)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    try:
        assert ctl("status", *state).stdout.startswith(f"running at {url}")
        assert ctl("start", *state).stdout.strip() == url  # already running: the same one
        deploy(LocalStack(url), unique_name, PROBE)
        result, _, _ = invoke(LocalStack(url), unique_name, {})
        pids = [int((tmp_path / "pid").read_text()), result["pid"], result["init_pid"]]
        services = json.loads((tmp_path / image_services.SERVICES_FILE).read_text())
        for endpoint in (url, services["ecr"], services["registry"]):
            assert listening_hosts(int(endpoint.rsplit(":", 1)[1])) == {"127.0.0.1"}, endpoint
        killed_job = tmp_path / "runtime" / "batch-jobs" / "job-1"  # as a job stopped midway
        killed_job.mkdir(parents=True)
    finally:
        stopped = ctl("stop", *state)

    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if _alive(pid)] == []
    assert ctl("status", *state).returncode == 3
    assert not (tmp_path / "pid").exists()
    assert not (tmp_path / "runtime" / "batch-jobs").exists()
    assert (tmp_path / "runtime").is_dir()  # the execution environments' logs stay


def listening_hosts(port: int) -> set[str]:
    """The addresses sockets listen on at `port` (/proc/net/tcp and tcp6; "::" and "0.0.0.0"
    are every interface)."""
    hosts = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                hosts.add(socket.inet_ntop(family, words))
    return hosts


@pytest.mark.integration
def test_ports_another_program_takes_before_the_services_listen_are_chosen_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as first, socket.socket() as second:
        for holder in (first, second):  # what takes a port between its check and the listen
            holder.bind(("127.0.0.1", 0))
            holder.listen()
        taken = [first.getsockname()[1], second.getsockname()[1]]
        claim = localstack._claim
        claims: list[list[int]] = []

        def racing_claim(port: int, extra: int) -> list[int]:
            ports = claim(port, extra)
            if len(claims) < 2:  # LocalStack's port, then moto's, lost to the holders
                ports[len(claims)] = taken[len(claims)]
            claims.append(ports)
            return ports

        monkeypatch.setattr(localstack, "_claim", racing_claim)
        try:
            instance = localstack.start(tmp_path)
            assert localstack.healthy(instance.url)
            assert instance.port == claims[2][0]
            assert image_services.read(tmp_path).ecr.endswith(f":{claims[2][1]}")
        finally:
            localstack.stop(tmp_path)
    assert len(claims) == 3
