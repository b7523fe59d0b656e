"""The user's small text files (the FDL, SCAR's configuration file), read with one clear
problem when they cannot be."""

from __future__ import annotations

from pathlib import Path

MAX_BYTES = 1 << 20  # SCAR's files are a few KiB; /dev/zero must not be read forever


def read_small_text(path: Path, what: str, syntax: str) -> tuple[str | None, str | None]:
    """(text, None), or (None, what is wrong) for a file `what` (`an FDL file`) in `syntax`."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None, "file not found"
    except IsADirectoryError:
        return None, f"is a folder, not {what}"
    except OSError as error:
        return None, f"cannot read it: {error.strerror}"
    if len(data) > MAX_BYTES:
        return None, f"larger than 1 MiB; {what} is a short {syntax} text"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
