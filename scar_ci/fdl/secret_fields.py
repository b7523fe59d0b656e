"""Which FDL fields hold secrets, and their values as the raw file gives them.

A field is secret when its key names a key, secret, token, password or credential (storage
providers' `access_key`, `secret_key` and `token`, OSCAR's `auth_password`, an environment
variable such as `DB_PASSWORD`), and so is everything under it. Problems never quote a secret
field's value, whatever its type (a key written as a YAML number is still a key); the values
are reported to the secret sinks (`::add-mask::` under Actions) as soon as a file is parsed,
before any problem is printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scar_ci.fdl.located import KeyPath, walk

SECRET_WORDS = ("key", "secret", "token", "password", "credential")
# Shorter values are left unmasked: masking `30` or `yes` would hide them all over the log,
# and no credential is that short. They are never quoted all the same.
MIN_MASKED = 4


def is_secret_name(name: object) -> bool:
    """Whether a mapping key names a secret."""
    return isinstance(name, str) and any(word in name.lower() for word in SECRET_WORDS)


def is_secret_path(path: KeyPath) -> bool:
    """Whether the value at `path` is, or is inside, a secret field."""
    return any(is_secret_name(part) for part in path)


def secret_values(data: Any) -> Iterator[str]:
    """The text of every scalar in a secret field (numbers as written in decimal)."""
    for path, value in walk(data):
        if (isinstance(value, str | int | float) and not isinstance(value, bool)
                and is_secret_path(path) and len(text := str(value)) >= MIN_MASKED):
            yield text
