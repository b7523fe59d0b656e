"""The job summary (`$GITHUB_STEP_SUMMARY`): functions table, applied plan, smoke output.

Everything shown is escaped: table cells cannot break the table or inject HTML, and a
function's output goes into a code fence longer than any backtick run inside it, cut to a
bounded size with a note saying where the rest is.
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scar_ci.deploy.plan import PAST, Plan
from scar_ci.errors import UserError

OUTPUT_LINES = 60
OUTPUT_CHARS = 8000
EMPTY = "\u2013"  # an en dash, for empty cells

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/%-]+")


class SummaryFileError(UserError):
    """`$GITHUB_STEP_SUMMARY` names a file that cannot be written."""


@dataclass(frozen=True)
class FunctionRow:
    """One deployed function as the summary's table shows it."""

    name: str
    runtime: str
    image: str
    memory: int | str  # MB for a function; Kubernetes' quantity (`256Mi`) for a service
    endpoint: str
    status: str


@dataclass(frozen=True)
class SmokeResult:
    """What the smoke invocation of one function gave."""

    function: str
    source: str  # what it was sent: `{}`, a payload, a file name
    ok: bool
    seconds: float
    output: str
    how_to_see_more: str  # a command or place that shows the whole output
    log_url: str = ""  # the function's logs in the AWS console


def cell(text: str) -> str:
    """`text` as one table cell: one line, markdown and HTML characters escaped."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return _MARKDOWN.sub(r"\\\1", html.escape(flat, quote=False)) or EMPTY


def link(url: str) -> str:
    """A URL that GitHub links as it is when it is a plain one, else escaped text."""
    return url if _PLAIN_URL.fullmatch(url) else cell(url)


def code(text: str) -> str:
    """An inline code span that shows `text` as it is (one line)."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    fence = "`" * (_longest_backtick_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def fenced(text: str, info: str = "text") -> str:
    """A fenced code block holding `text` verbatim (control characters made visible)."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r\n", "\n"))
    fence = "`" * max(3, _longest_backtick_run(shown) + 1)
    return f"{fence}{info}\n{shown.rstrip(chr(10))}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def truncate(text: str, lines: int = OUTPUT_LINES, chars: int = OUTPUT_CHARS
             ) -> tuple[str, bool]:
    """The first `lines` lines and at most `chars` characters of `text`; True if cut."""
    kept = text.splitlines()[:lines]
    cut = "\n".join(kept)
    if len(cut) > chars:
        cut = cut[:chars]
    return cut, cut.rstrip("\n") != text.rstrip("\n")


def plan_counts(plan: Plan) -> str:
    """`3 created, 1 updated, 1 deleted, 2 unchanged` (only the verbs that occur)."""
    n = Counter(c.verb for c in plan.changes)
    parts = [f"{n[verb]} {PAST[verb]}" for verb in PAST if n[verb]]
    return ", ".join(parts) or "nothing to do"


def render_heading(kind: str, scope: str) -> str:
    """`### scar-action · preview `pr-42``."""
    return f"### scar-action · {cell(kind)} {code(scope)}"


def render_functions(rows: Sequence[FunctionRow]) -> str:
    """The functions table."""
    lines = ["| function | runtime | image | memory | endpoint | status |",
             "|---|---|---|---|---|---|"]
    lines.extend(
        f"| {cell(r.name)} | {cell(r.runtime)} | {cell(r.image)} | {_memory(r.memory)} | "
        f"{link(r.endpoint)} | {cell(r.status)} |" for r in rows)
    return "\n".join(lines)


def render_plan(plan: Plan, title: str, seconds: float | None = None) -> str:
    """The plan, folded in a <details> block: `Plan applied: 3 created, ... (14.2 s)`."""
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    summary = html.escape(f"{title}: {plan_counts(plan)}{took}")
    return f"<details><summary>{summary}</summary>\n\n{fenced(plan.render())}\n\n</details>"


def render_smoke(smoke: SmokeResult) -> str:
    """The smoke invocation: result line and its output, cut safely."""
    shown, cut = truncate(smoke.output)
    verdict = "ok" if smoke.ok else "**failed**"
    lines = [f"**Smoke test** {code(smoke.function)} ← {code(smoke.source)}: "
             f"{verdict} in {smoke.seconds:.1f} s", "", fenced(shown or "(no output)")]
    if cut:
        lines += ["", f"Output cut to its first {OUTPUT_LINES} lines / {OUTPUT_CHARS} "
                      f"characters; the rest: {code(smoke.how_to_see_more)}"]
    if smoke.log_url:
        lines += ["", f"[Logs of {cell(smoke.function)}]({smoke.log_url})"]
    return "\n".join(lines)


def _memory(memory: int | str) -> str:
    return f"{memory} MB" if isinstance(memory, int) else cell(memory)


def render_summary(kind: str, scope: str, *, rows: Sequence[FunctionRow] = (),
                   plan: Plan | None = None, plan_title: str = "Plan applied",
                   seconds: float | None = None, smoke: SmokeResult | None = None,
                   notes: Sequence[str] = ()) -> str:
    """The whole summary of one run, following docs/action.md."""
    parts = [render_heading(kind, scope)]
    if rows:
        parts.append(render_functions(rows))
    if plan is not None:
        parts.append(render_plan(plan, plan_title, seconds))
    if smoke is not None:
        parts.append(render_smoke(smoke))
    parts.extend(notes)
    return "\n\n".join(parts) + "\n"


def write_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append to `$GITHUB_STEP_SUMMARY`; False (nothing written) when it is not set."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_STEP_SUMMARY", "")
    if not path:
        return False
    try:
        with Path(path).open("a", encoding="utf-8") as file:
            file.write(markdown)
    except OSError as error:
        raise SummaryFileError(
            f"cannot write the job summary to {path} (GITHUB_STEP_SUMMARY): {error.strerror}"
        ) from None
    return True
