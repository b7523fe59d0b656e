"""What can end an invocation, each with the HTTP status an API Gateway caller gets."""

from __future__ import annotations


class SupervisorError(Exception):
    """An invocation that cannot succeed; the message says what, where and how to fix it."""

    status = 500


class BadRequest(SupervisorError):
    """The event itself is unacceptable (hostile key, malformed script, bad variable name)."""

    status = 400


class ConfigError(SupervisorError):
    """The function's own configuration (scar-function.json, environment) is wrong."""


class ContainerError(SupervisorError):
    """udocker could not get the image or prepare the container."""


class StorageFailed(SupervisorError):
    """A storage provider refused or could not be reached while moving a file."""

    status = 502


class ScriptFailed(SupervisorError):
    """The user's script or command exited non-zero, or ran out of time."""

    TAIL_LINES = 20

    def __init__(self, headline: str, output: bytes = b"", exit_code: int = 1) -> None:
        super().__init__(headline)
        self.headline = headline
        self.output = output
        self.exit_code = exit_code  # what a Batch job exits with

    def __str__(self) -> str:
        lines = self.output.rstrip(b"\n").split(b"\n")[-self.TAIL_LINES:]
        tail = b"\n".join(lines).decode(errors="replace")
        return f"{self.headline}; last output:\n{tail}" if tail else self.headline
