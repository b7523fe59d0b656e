"""Step outputs: `name<<DELIMITER` blocks appended to `$GITHUB_OUTPUT`, any value multi-line."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scar_ci.errors import UserError


class OutputFileError(UserError):
    """`$GITHUB_OUTPUT` names a file that cannot be written."""


def format_outputs(values: Mapping[str, Any]) -> str:
    """The file-command text for `values` (non-strings as JSON), each under a fresh delimiter.

    The delimiter is random and checked against the value, so a value cannot close its
    block early and set other outputs.
    """
    blocks = []
    for name, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        while delimiter in text:  # pragma: no cover - 128 random bits
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        blocks.append(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
    return "".join(blocks)


def write_outputs(values: Mapping[str, Any], env: Mapping[str, str] | None = None) -> bool:
    """Append `values` to `$GITHUB_OUTPUT`; False (nothing written) when it is not set."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_OUTPUT", "")
    if not path:
        return False
    try:
        with Path(path).open("a", encoding="utf-8", newline="\n") as file:
            file.write(format_outputs(values))
    except OSError as error:
        raise OutputFileError(
            f"cannot write the step outputs to {path} (GITHUB_OUTPUT): {error.strerror}"
        ) from None
    return True
