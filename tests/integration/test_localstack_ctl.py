"""The LocalStack control script: clear errors, and start / status / stop that leave nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    finally:
        stopped = ctl("stop", *state)

    assert stopped.returncode == 0, stopped.stderr
    assert [pid for pid in pids if _alive(pid)] == []
    assert ctl("status", *state).returncode == 3
    assert not (tmp_path / "pid").exists()
