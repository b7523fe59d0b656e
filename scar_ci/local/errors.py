"""Local mode's errors: what went wrong and what to install or change."""

from __future__ import annotations

from scar_ci.errors import UserError


class LocalError(UserError):
    """Local mode cannot start or is not running; the message says how to fix it."""


class PortTaken(LocalError):
    """A service of local mode could not listen on `port`: another program has it."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is already in use")
        self.port = port
