"""Log groups with timings, masks and untrusted text under Actions and outside."""

from __future__ import annotations

import io

import pytest

from scar_ci.github.workflow import GuardedStream, group, guard_output, mask, warn
from scar_testbed.actions_runner import workflow_commands


@pytest.fixture
def actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")


def test_a_group_folds_its_lines_and_prints_its_time_after(actions, capsys) -> None:
    with group("apply"):
        print("inside")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["::group::apply", "inside", "::endgroup::"]
    assert lines[3].startswith("done: apply (") and lines[3].endswith(" s)")


def test_a_failing_step_closes_its_group_and_says_failed(actions, capsys) -> None:
    with pytest.raises(RuntimeError), group("apply"):
        raise RuntimeError("boom")
    out = capsys.readouterr().out
    assert "::endgroup::" in out and "FAILED: apply" in out


def test_outside_actions_groups_are_plain_lines(monkeypatch, capsys) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    with group("plan"):
        pass
    mask(["secret"])
    out = capsys.readouterr().out
    assert out.startswith("== plan\ndone: plan (") and "::" not in out and "secret" not in out


def test_every_line_of_a_secret_is_masked_and_escaped(actions, capsys) -> None:
    mask(["AKIA1234", "line one\nline%two", ""])
    assert capsys.readouterr().out.splitlines() == [
        "::add-mask::AKIA1234", "::add-mask::line one", "::add-mask::line%25two"]


HOSTILE = ("::add-mask::x", "  ::error::indented", "a\r::set-output name=a::b",
           "text ##[set-output name=a;]b", "::stop-commands::guess", "::guess::")


@pytest.mark.parametrize("line", HOSTILE)
def test_a_guarded_line_is_text_for_the_runner_whatever_it_holds(line: str) -> None:
    out = io.StringIO()
    guarded = GuardedStream(out)
    guarded.write(f"plain\n{line[:5]}")  # a line may come in pieces
    guarded.write(f"{line[5:]}\nafter\n")
    assert workflow_commands(out.getvalue()) == []
    lines = out.getvalue().split("\n")
    assert lines[0] == "plain" and lines[2] == line and lines[-2:] == ["after", ""]


def test_safe_lines_pass_unchanged_and_bytes_are_guarded_too() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    guarded = GuardedStream(out)
    guarded.write("deploy: 3 functions :: ok\n")
    guarded.write("unfinished")
    guarded.buffer.write(b"\xff\x00 binary\n::error::from a function\n")
    guarded.end_line()
    log = out.buffer.getvalue()
    assert log.startswith(b"deploy: 3 functions :: ok\nunfinished\n\xff\x00 binary\n")
    assert workflow_commands(log.decode("latin-1")) == []


def test_commands_scar_ci_means_pass_the_guard(actions, capsys, monkeypatch) -> None:
    guard_output()
    print("half a line", end="")
    warn("one\n::error::two")
    mask(["s3cr3t"])
    assert workflow_commands(capsys.readouterr().out) == [
        "::warning::one%0A::error::two", "::add-mask::s3cr3t"]


def test_warnings(actions, capsys, monkeypatch) -> None:
    warn("no token")
    assert capsys.readouterr().out == "::warning::no token\n"
    monkeypatch.delenv("GITHUB_ACTIONS")
    warn("no token")
    assert capsys.readouterr().err == "scar-ci: warning: no token\n"
