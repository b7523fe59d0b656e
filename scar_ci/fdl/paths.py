"""Files an FDL refers to: resolved next to the FDL; under GitHub Actions never outside the
repository (a pull request's FDL must not read the runner's files), elsewhere anywhere the
user can read (SCAR's examples use /tmp)."""

from __future__ import annotations

import os
from pathlib import Path

from scar_ci.fdl.located import quoted


def repository_root(folder: Path) -> Path:
    """The git top-level holding `folder` (found without running git), else `folder` itself."""
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def confined_to_repository() -> bool:
    """True under GitHub Actions, where FDL paths must stay inside the repository."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def resolve_inside(value: str, fdl: Path, root: Path) -> Path | str:
    """`value` resolved next to the `fdl` file; a message instead when it is missing or, under
    GitHub Actions, leaves `root`.

    Symbolic links are followed before the check, so a link pointing outside is refused too.
    """
    if "\0" in value:
        return f"{quoted(value)} is not a valid path"
    path = (fdl.parent / value).resolve()
    if confined_to_repository() and not path.is_relative_to(root):
        return (f"{quoted(value)} leaves the repository (under GitHub Actions an FDL's files "
                "must be in its repository)")
    if not path.exists():
        return f"{quoted(value)} not found next to {fdl.name}"
    return path
