"""Files an FDL refers to: resolved next to the FDL, never outside the repository."""

from __future__ import annotations

from pathlib import Path

from scar_ci.fdl.located import quoted


def repository_root(folder: Path) -> Path:
    """The git top-level holding `folder` (found without running git), else `folder` itself."""
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def resolve_inside(value: str, fdl: Path, root: Path) -> Path | str:
    """`value` resolved next to the `fdl` file; a message instead when it leaves `root` or is
    missing.

    Symbolic links are followed before the check, so a link pointing outside is refused too.
    """
    if "\0" in value:
        return f"{quoted(value)} is not a valid path"
    path = (fdl.parent / value).resolve()
    if not path.is_relative_to(root):
        return f"{quoted(value)} leaves the repository"
    if not path.exists():
        return f"{quoted(value)} not found next to {fdl.name}"
    return path
