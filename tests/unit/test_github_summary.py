"""The job summary's markdown: escaping of untrusted text, safe fences, truncation, layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from scar_ci.deploy.plan import Change, Plan, Verb
from scar_ci.errors import UserError
from scar_ci.steps.summary import (
    OUTPUT_LINES,
    FunctionRow,
    SmokeResult,
    cell,
    code,
    fenced,
    link,
    render_summary,
    truncate,
    write_summary,
)

PLAN = Plan("scope pr-42 (pull request #42, branch feature/x)", (
    Change(Verb.CREATE, "function", "thumbs--pr-42", "256 MB, 60 s"),
    Change(Verb.UPDATE, "function", "gray--pr-42", "MemorySize 512 -> 2048"),
    Change(Verb.KEEP, "layer", "scar-ci-supervisor", "unchanged"),
    Change(Verb.DELETE, "function", "old--pr-42", "(no longer in scar.yaml)"),
))


def test_a_cell_cannot_break_the_table_or_inject_html() -> None:
    shown = cell("a|b\n| x | <script>alert(1)</script> [l](http://e) `c` *d*")
    assert "\n" not in shown
    assert "<" not in shown and ">" not in shown.replace("&gt;", "")
    assert shown.count("|") == shown.count("\\|")
    assert "\\[l\\]" in shown and "\\`c\\`" in shown
    assert cell("") == "\u2013"


def test_only_plain_urls_are_links() -> None:
    url = "http://127.0.0.1:4566/restapis/abc/scar/_user_request_/launch"
    assert link(url) == url
    assert link("https://x/a|b") == "https://x/a\\|b"
    assert link("javascript:alert(1)") == "javascript:alert(1)"  # text, not a link target


def test_code_spans_and_fences_outlast_the_backticks_inside() -> None:
    assert code("pr-42") == "`pr-42`"
    assert code("a``b") == "```a``b```"
    block = fenced("before\n```\n````\nafter\x1b[31m")
    fence = block.splitlines()[0].removesuffix("text")
    assert fence == "`" * 5 and block.endswith("\n" + fence)
    assert "\\x1b[31m" in block and "\x1b" not in block


def test_long_output_is_cut_and_says_so() -> None:
    text = "\n".join(f"line {i}" for i in range(200))
    shown, cut = truncate(text)
    assert cut and len(shown.splitlines()) == OUTPUT_LINES
    assert truncate("short\n") == ("short", False)
    assert truncate("x" * 100_000)[0] == "x" * 8000


def test_the_whole_summary_follows_the_sketch() -> None:
    rows = [FunctionRow("thumbs--pr-42", "udocker", "grycap/imagemagick", 1024,
                        "https://abc.execute-api.us-east-1.amazonaws.com/scar/launch", "created")]
    smoke = SmokeResult("thumbs--pr-42", "tests/data/homer.png", True, 2.84,
                        "\n".join(f"out {i}" for i in range(100)),
                        "scar-ci logs -n thumbs--pr-42 --request-id 9c1",
                        "https://console/logs")
    text = render_summary("preview", "pr-42", rows=rows, plan=PLAN, seconds=14.21, smoke=smoke)
    assert text.startswith("### scar-action · preview `pr-42`\n")
    assert ("| thumbs--pr-42 | udocker | grycap/imagemagick | 1024 MB | "
            "https://abc.execute-api.us-east-1.amazonaws.com/scar/launch | created |") in text
    assert ("<details><summary>Plan applied: 1 created, 1 updated, 1 deleted, 1 unchanged "
            "(14.2 s)</summary>") in text
    assert "  ~ update  function  gray--pr-42" in text
    assert "**Smoke test** `thumbs--pr-42` ← `tests/data/homer.png`: ok in 2.8 s" in text
    assert "out 59" in text and "out 60" not in text
    assert "the rest: `scar-ci logs -n thumbs--pr-42 --request-id 9c1`" in text
    assert "[Logs of thumbs--pr-42](https://console/logs)" in text


def test_the_summary_file_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    assert write_summary("# mine\n", {"GITHUB_STEP_SUMMARY": str(path)})
    assert path.read_text() == "earlier step\n# mine\n"
    assert not write_summary("# mine\n", {})
    with pytest.raises(UserError, match="GITHUB_STEP_SUMMARY"):
        write_summary("x", {"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such")})
