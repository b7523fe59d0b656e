"""Step outputs in `$GITHUB_OUTPUT`, read back the way the runner parses the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scar_ci.errors import UserError
from scar_ci.github.outputs import format_outputs, write_outputs


def parse_like_the_runner(text: str) -> dict[str, str]:
    """The runner's reading: `name=value` lines, or `name<<DELIM` ... `DELIM` blocks."""
    values, lines = {}, iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise AssertionError(f"block {name} not closed")
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_multiline_and_json_values_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("earlier=1\n")
    values = {"plan": '{\n  "a": 1\n}', "functions": [{"name": "x"}], "api-url": ""}
    assert write_outputs(values, {"GITHUB_OUTPUT": str(path)})
    assert parse_like_the_runner(path.read_text()) == {
        "earlier": "1", "plan": '{\n  "a": 1\n}', "functions": '[{"name": "x"}]', "api-url": ""}


def test_a_value_cannot_set_another_output() -> None:
    hostile = "x\nEOF\napi-url=https://evil\nghadelimiter_\napi-url<<EOF\nevil\nEOF"
    text = format_outputs({"invocation-output": hostile, "api-url": "https://good"})
    assert parse_like_the_runner(text) == {"invocation-output": hostile,
                                           "api-url": "https://good"}
    delimiters = re.findall(r"<<(ghadelimiter_[0-9a-f]{32})\n", text)
    assert len(set(delimiters)) == 2


def test_without_github_output_nothing_is_written_and_a_bad_path_is_one_error(
        tmp_path: Path) -> None:
    assert not write_outputs({"a": "b"}, {})
    with pytest.raises(UserError, match=r"GITHUB_OUTPUT"):
        write_outputs({"a": "b"}, {"GITHUB_OUTPUT": str(tmp_path / "missing" / "out")})
