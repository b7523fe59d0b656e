"""Large FDL files: validation is linear in the number of functions (issue 13, hole 9; the
figures are bench/validate_bench.py's), and past MAX_FUNCTIONS a file is refused at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from scar_ci.fdl import FDLError, load_fdl, loader
from scar_ci.fdl.loader import MAX_FUNCTIONS
from scar_ci.fdl.located import Located


def fdl(folder: Path, count: int, broken: int | None = None) -> Path:
    (folder / "run.sh").write_text("#!/bin/sh\n")
    lines = ["functions:", "  aws:"]
    lines += [f"  - lambda: {{name: fn{i}, init_script: run.sh, "
              f"memory: {99999 if i == broken else 256}, container: {{image: busybox}}}}"
              for i in range(count)]
    path = folder / "scar.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_too_many_functions_is_one_problem_at_the_list(tmp_path: Path) -> None:
    with pytest.raises(FDLError) as caught:
        load_fdl(fdl(tmp_path, MAX_FUNCTIONS + 1, broken=3))
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'scar.yaml'}:2:3: functions.aws: {MAX_FUNCTIONS + 1} functions; an FDL "
        f"file holds at most {MAX_FUNCTIONS}: split it into several files"]


def test_the_bound_itself_is_accepted_and_each_function_keeps_its_positions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_FUNCTIONS", 40)
    with pytest.raises(FDLError) as caught:
        load_fdl(fdl(tmp_path, 40, broken=38))
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{tmp_path / 'scar.yaml'}:41:")
    assert "functions.aws[38].lambda.memory: 99999" in str(problem)


def test_defaults_are_merged_in_one_pass_whatever_the_number_of_functions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quadratic cost was a re-rooting of every position per function."""
    passes: list[str] = []
    for name in ("subtree", "children", "replace_children"):
        method = getattr(Located, name)
        monkeypatch.setattr(Located, name, lambda self, *a, _m=method, _n=name: (
            passes.append(_n), _m(self, *a))[1])
    counted = []
    for count in (3, 30):
        passes.clear()
        (tmp_path / str(count)).mkdir()
        assert len(load_fdl(fdl(tmp_path / str(count), count)).functions) == count
        counted.append(sorted(passes))
    assert counted[0] == counted[1] == ["children", "replace_children"]


def test_children_are_the_subtrees() -> None:
    doc = Located({"a": [{"x": 1}, {"y": {"z": 2}}]},
                  {("a",): "A", ("a", 0): "A0", ("a", 0, "x"): "X", ("a", 1): "A1",
                   ("a", 1, "y"): "Y", ("a", 1, "y", "z"): "Z"},
                  {("a",): "a", ("a", 0, "x"): "x", ("a", 1, "y"): "y", ("a", 1, "y", "z"): "z"})
    children = doc.children(("a",))
    assert children == {i: doc.subtree(("a", i)) for i in (0, 1)}
    doc.replace_children(("a",), {1: Located({"w": 3}, {(): "W1", ("w",): "W"}, {("w",): "w"})})
    assert doc.data == {"a": [{"x": 1}, {"w": 3}]}
    assert doc.values == {("a",): "A", ("a", 0): "A0", ("a", 0, "x"): "X", ("a", 1): "W1",
                          ("a", 1, "w"): "W"}
    assert doc.keys == {("a",): "a", ("a", 0, "x"): "x", ("a", 1, "w"): "w"}
