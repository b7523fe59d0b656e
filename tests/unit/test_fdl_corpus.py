"""Every broken FDL in tests/fdl_corpus gives exactly the lines of its `.expected` file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scar_ci.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "fdl_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


@pytest.fixture(autouse=True)
def _in_corpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run next to the corpus files, with no ~/.scar/scar.cfg and no region from outside."""
    monkeypatch.chdir(CORPUS)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_every_case_has_its_expected_lines() -> None:
    assert len(CASES) >= 20
    assert sorted(p.stem for p in CORPUS.glob("*.expected")) == CASES


# Cases judged as under GitHub Actions (outside it, FDL paths may leave the repository).
IN_ACTIONS = {"path-escape"}


@pytest.mark.parametrize("case", CASES)
def test_broken_fdl_is_reported_line_by_line(case: str, capsys: pytest.CaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    if case in IN_ACTIONS:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = main(["validate", "-f", f"{case}.yaml"])
    out, err = capsys.readouterr()
    assert code == 2
    assert (out.startswith("::error ") if case in IN_ACTIONS else out == "")
    assert err == (CORPUS / f"{case}.expected").read_text(encoding="utf-8")
    assert "Traceback" not in err
    assert err.endswith(" in " + f"{case}.yaml; nothing was deployed.\n")
