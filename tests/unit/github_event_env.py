"""The environment the Actions runner gives a step, for the payloads in tests/data/github_events."""

from __future__ import annotations

import json
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[1] / "data" / "github_events"
PAYLOADS = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "runner_env.json")


def runner_env(payload: str, **overrides: str) -> dict[str, str]:
    """GITHUB_* variables as the runner sets them for `payload` (a file name in EVENTS)."""
    table = json.loads((EVENTS / "runner_env.json").read_text(encoding="utf-8"))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(EVENTS / payload), **table[payload]}
    env.update(overrides)
    return env
