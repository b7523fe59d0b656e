"""Local mode's errors: what went wrong and what to install or change."""

from __future__ import annotations

from scar_ci.errors import UserError


class LocalError(UserError):
    """Local mode cannot start or is not running; the message says how to fix it."""
