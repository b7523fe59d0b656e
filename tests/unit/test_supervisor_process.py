"""Running a command: streamed line by line, captured, killed with its children at the limit."""

import os
import time
from pathlib import Path

from scar_ci.supervisor import process
from scar_ci.supervisor.process import run_streaming

ENV = {"PATH": os.environ["PATH"]}


def test_output_is_logged_as_it_comes_and_captured_interleaved():
    seen: list[tuple[float, bytes]] = []
    script = "echo first; echo oops >&2; sleep 0.6; echo last"
    start = time.monotonic()
    result = run_streaming(["/bin/sh", "-c", script], ENV, timeout=10,
                           log=lambda line: seen.append((time.monotonic() - start, line)))
    assert (result.exit_code, result.timed_out) == (0, False)
    assert result.output == b"first\noops\nlast\n"
    assert [line for _, line in seen] == [b"first\n", b"oops\n", b"last\n"]
    assert seen[-1][0] - seen[0][0] > 0.4  # the first line was logged before the end


def test_exit_codes_are_reported():
    assert run_streaming(["/bin/sh", "-c", "exit 7"], ENV, timeout=10, log=print).exit_code == 7


def test_arguments_are_never_shell_interpreted(tmp_path):
    hostile = f"$(touch {tmp_path}/pwned); `id`"
    result = run_streaming(["/bin/echo", hostile], ENV, timeout=10, log=lambda _: None)
    assert result.output == hostile.encode() + b"\n"
    assert not (tmp_path / "pwned").exists()


def test_the_time_limit_kills_the_whole_process_group(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pid_file}; echo started; wait"
    start = time.monotonic()
    result = run_streaming(["/bin/sh", "-c", script], ENV, timeout=0.5, log=lambda _: None)
    assert time.monotonic() - start < 5
    assert (result.timed_out, result.exit_code) == (True, None)
    assert result.output == b"started\n"
    child = int(pid_file.read_text())
    time.sleep(0.1)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone, or a zombie


def test_captured_output_is_capped(monkeypatch):
    monkeypatch.setattr(process, "MAX_CAPTURED", 100)
    result = run_streaming(["/bin/sh", "-c", "yes | head -n 200"], ENV, timeout=10,
                           log=lambda _: None)
    assert result.output.startswith(b"y\n" * 50)
    assert result.output.endswith(process.TRUNCATED_NOTE)
