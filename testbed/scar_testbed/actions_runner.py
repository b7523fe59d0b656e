"""What the Actions runner gives a Docker action's container: INPUT_* variables and files.

`input_env` derives the INPUT_* variables from action.yml the way the runner does (every
declared input, its default unless overridden; the name upper-cased, spaces to underscores,
hyphens kept; `${{ github.token }}` resolved to the given token). `step_env` adds the
GITHUB_* variables for one of the recorded event payloads and fresh output/summary files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EVENTS = ROOT / "tests" / "data" / "github_events"


def action_inputs() -> dict[str, Any]:
    """The `inputs` mapping of action.yml."""
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))["inputs"]


def input_env(overrides: dict[str, str] | None = None, token: str = "") -> dict[str, str]:
    """INPUT_* for every declared input: defaults from action.yml, then `overrides`."""
    values = {name: str(spec.get("default", "")) for name, spec in action_inputs().items()}
    values = {k: token if v == "${{ github.token }}" else v for k, v in values.items()}
    for name in overrides or {}:
        if name not in values:
            raise KeyError(f"action.yml declares no input {name!r}")
    values.update(overrides or {})
    return {f"INPUT_{name.replace(' ', '_').upper()}": v for name, v in values.items()}


def event_copy(folder: Path, payload: str, **changes: Any) -> Path:
    """A copy of a recorded payload with top-level keys and `pull_request` / `release`
    fields changed (e.g. a number or tag no other test uses); same file name."""
    event = json.loads((EVENTS / payload).read_text(encoding="utf-8"))
    for key, value in changes.items():
        for node in (event, event.get("pull_request") or {}, event.get("release") or {}):
            if key in node:
                node[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / payload
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def step_env(folder: Path, payload: str | Path, **github: str) -> dict[str, str]:
    """GITHUB_* for `payload` (a file of tests/data/github_events, or an `event_copy` of one),
    the runner's variables for it (overridable), output and summary files in `folder`."""
    path = payload if isinstance(payload, Path) else EVENTS / payload
    table = json.loads((EVENTS / "runner_env.json").read_text(encoding="utf-8"))
    files = {"GITHUB_OUTPUT": folder / "github_output", "GITHUB_STEP_SUMMARY": folder /
             "step_summary.md"}
    for file in files.values():
        file.touch()
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(path),
            "GITHUB_WORKSPACE": str(folder), "GITHUB_RUN_ID": "1234567890",
            "GITHUB_SERVER_URL": "https://github.com", **table[path.name],
            **{k: str(v) for k, v in files.items()}, **github}


def workflow_commands(log: str) -> list[str]:
    """The lines of `log` (a step's stdout and stderr) that the runner would read as workflow
    commands, as it reads them: lines broken at `\\r` and `\\n`, `::` after leading blanks or
    `##[` anywhere, nothing between `::stop-commands::TOKEN` and `::TOKEN::`. Stricter than
    the runner: a `::` line it would print as an unknown command counts too."""
    commands, paused_by = [], ""
    for line in re.split(r"\r\n|\r|\n", log):
        text = line.strip()
        if paused_by:
            paused_by = "" if text == f"::{paused_by}::" else paused_by
        elif text.startswith("::stop-commands::"):
            paused_by = text.removeprefix("::stop-commands::")
        elif text.startswith("::") or "##[" in line:
            commands.append(text)
    return commands
