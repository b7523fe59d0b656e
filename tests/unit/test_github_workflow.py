"""Log groups with timings, masks and untrusted text under Actions and outside."""

from __future__ import annotations

import pytest

from scar_ci.github.workflow import group, mask, print_untrusted, warn


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


def test_untrusted_text_cannot_issue_workflow_commands(actions, capsys) -> None:
    print_untrusted("::add-mask::x\n::error::fake\n::stop-commands::guess")
    lines = capsys.readouterr().out.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) > 30 and token not in "\n".join(lines[1:-1])
    assert lines[-1] == f"::{token}::"


def test_warnings(actions, capsys, monkeypatch) -> None:
    warn("no token")
    assert capsys.readouterr().out == "::warning::no token\n"
    monkeypatch.delenv("GITHUB_ACTIONS")
    warn("no token")
    assert capsys.readouterr().err == "scar-ci: warning: no token\n"
