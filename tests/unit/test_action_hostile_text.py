"""Hostile text in what the action and the CLI print under Actions (issue 13, holes 10 and 11):
no input, file name, branch name or FDL value becomes a workflow command, and a secret field's
value is masked before anything is printed and quoted nowhere, whatever its YAML type."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_github_action_run import FDL

from scar_testbed.actions_runner import ROOT, input_env, step_env, workflow_commands

INJECTED = ["\n::error::injected", "\r::add-mask::injected", "\n::set-output name=x::injected",
            "\n##[error]injected"]
SECRET = "987654321098765432"


def actions_run(workspace: Path, argv: list[str] | None = None, inputs: dict[str, str] | None
                = None, **github: str) -> tuple[int, str, str]:
    """entrypoint.py as the runner starts it (the action, or the CLI with `argv`): exit code,
    the log (stdout then stderr) and the job summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({**input_env(inputs or {}), **step_env(workspace, "push_feature.json", **github)})
    done = subprocess.run([sys.executable, str(ROOT / "entrypoint.py"), *(argv or [])],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    return done.returncode, done.stdout + done.stderr, (
        workspace / "step_summary.md").read_text()


def injected(log: str, hostile: str) -> list[str]:
    """The commands of the log the hostile text issued (scar-ci's own may quote it escaped)."""
    payload = hostile.lstrip("\r\n")
    return [command for command in workflow_commands(log) if command.startswith(payload)]


def write_fdl(folder: Path, script: str = "run.sh", access_key: str = "AKIAMINIOKEY",
              secret_key: str = '"s3cr3t/with+chars"') -> None:  # noqa: S107 - a test value
    """test_github_action_run's FDL with these values."""
    (folder / "scar.yaml").write_text(
        FDL.replace("init_script: run.sh", f"init_script: {script}")
        .replace("access_key: AKIAMINIOKEY", f"access_key: {access_key}")
        .replace('secret_key: "s3cr3t/with+chars"', f"secret_key: {secret_key}"))
    (folder / "run.sh").write_text("echo hi\n")


@pytest.mark.parametrize("hostile", INJECTED)
def test_an_fdl_path_input_issues_no_command(tmp_path: Path, hostile: str) -> None:
    code, log, _ = actions_run(tmp_path, inputs={"command": "validate",
                                                 "fdl": f"conf{hostile}.yaml"})
    assert code == 2 and "file not found" in log
    assert injected(log, hostile) == [], log


@pytest.mark.parametrize("hostile", INJECTED[:2])
def test_cli_arguments_issue_no_command(tmp_path: Path, hostile: str) -> None:
    write_fdl(tmp_path)
    for argv in (["validate", "-f", f"x{hostile}"], ["validate", f"--bogus{hostile}"],
                 ["teardown", "--scope", f"bad scope{hostile}"]):
        code, log, _ = actions_run(tmp_path, argv)
        assert code != 0 and "injected" in log
        assert injected(log, hostile) == [], log


@pytest.mark.parametrize("hostile", INJECTED[:2])
def test_a_branch_name_issues_no_command(tmp_path: Path, hostile: str) -> None:
    write_fdl(tmp_path)
    _, log, _ = actions_run(tmp_path, inputs={"command": "plan"},
                            GITHUB_REF=f"refs/heads/feature{hostile}",
                            GITHUB_REF_NAME=f"feature{hostile}")
    assert "injected" in log and injected(log, hostile) == [], log


def test_fdl_values_issue_no_command(tmp_path: Path) -> None:
    write_fdl(tmp_path, script='"a\\n::error::injected\\r::add-mask::b"')
    code, log, summary = actions_run(tmp_path, inputs={"command": "validate"})
    assert code == 2 and "not found" in summary
    assert injected(log, "::error::injected") == injected(log, "::add-mask::b") == [], log


@pytest.mark.parametrize("argv", [None, ["validate", "-f", "scar.yaml"]])
def test_a_secret_written_as_a_number_is_masked_first_and_quoted_nowhere(
        tmp_path: Path, argv: list[str] | None) -> None:
    write_fdl(tmp_path, access_key="123456789012", secret_key=SECRET)
    code, log, summary = actions_run(tmp_path, argv, inputs={"command": "validate"})
    assert code == 2
    masks = [c for c in workflow_commands(log) if c.startswith("::add-mask::")]
    assert {"::add-mask::123456789012", f"::add-mask::{SECRET}"} <= set(masks)
    first_problem = log.index("secret_key")
    assert log.index(f"::add-mask::{SECRET}") < first_problem
    shown = log.replace(f"::add-mask::{SECRET}", "").replace("::add-mask::123456789012", "")
    assert SECRET not in shown and "123456789012" not in shown and SECRET not in summary
    assert "secret_key: expected a string, got an integer (a secret: its value is not shown)" \
        in log
