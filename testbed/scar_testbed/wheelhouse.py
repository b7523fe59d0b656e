"""The wheels a `pip install .` of this project needs, resolved from the index once per set of
declared requirements and kept in the scar-ci cache, so a test can install a clean checkout
into a fresh venv with `--no-index --find-links` in seconds instead of asking the index again.

The key is the Python version with the project's `dependencies` and its `build-system`
`requires`, as pyproject.toml declares them: a change to either resolves afresh. What the
index publishes later under the same declarations is not seen until the folder is removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from scar_ci.cache import cache_dir, exclusive

COMPLETE = "complete.json"  # written last: a folder without it is a build that was cut short


def declared_requirements(pyproject: Path) -> list[str]:
    """The project's `dependencies` and its build system's `requires`."""
    document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return [*document["project"]["dependencies"], *document["build-system"]["requires"]]


def dependency_wheels(pyproject: Path, python: str = sys.executable) -> Path:
    """The folder of wheels for `pyproject`'s declared requirements on `python`, made with
    `pip wheel` (from the index, with pip's cache) the first time."""
    requirements = declared_requirements(pyproject)
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    key = hashlib.sha256(json.dumps([version, requirements]).encode()).hexdigest()[:16]
    folder = cache_dir() / "testbed" / f"wheels-{key}"
    with exclusive(folder.with_suffix(".lock")):  # two test workers may want it at once
        if not (folder / COMPLETE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            done = subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                                   str(folder), *requirements], capture_output=True, text=True,
                                  timeout=900, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"pip wheel of {pyproject}'s requirements failed:\n"
                                   f"{done.stderr[-3000:]}")
            (folder / COMPLETE).write_text(json.dumps({"python": version,
                                                       "requirements": requirements}))
    return folder
