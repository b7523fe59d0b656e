"""Object keys are untrusted: check them before they name a local file, and lay out output keys."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from scar_ci.supervisor.errors import BadRequest

MAX_KEY_LENGTH = 1024
NAME_MAX, PATH_MAX = 255, 4096  # Linux's limits in bytes, when the file system does not say
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_object_key(key: str) -> str:
    """Return `key` if it is a plain relative object key, else raise BadRequest saying why."""
    problem = _key_problem(key)
    if problem:
        raise _rejected(key, problem)
    return key


def _rejected(key: str, problem: str) -> BadRequest:
    return BadRequest(f"object key {key!r} rejected: {problem}; "
                      "rename the object to a plain relative key such as 'input/photo.png'")


def _key_problem(key: str) -> str | None:
    if not key:
        return "it is empty"
    if len(key.encode()) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} bytes"
    if _CONTROL.search(key):
        return "it contains a control character (NUL, line break, ...)"
    if key.startswith("/"):
        return "it is an absolute path"
    if "\\" in key:
        return "it contains a backslash"
    segments = key.split("/")
    if any(seg in (".", "..") for seg in segments):
        return "it contains a '.' or '..' segment"
    if not segments[-1]:
        return "it names a folder, not a file"
    return _name_problem(segments[-1], NAME_MAX)


def _name_problem(name: str, name_max: int) -> str | None:
    """Why the file system cannot hold a file called `name` (the supervisor saves it so)."""
    size = len(os.fsencode(name))
    if size > name_max:
        return f"its last segment is {size} bytes, more than the {name_max} a file name can have"
    return None


def local_path_for_key(folder: Path, key: str) -> Path:
    """The file in `folder` an object is downloaded to: its checked key's last segment."""
    name = PurePosixPath(check_object_key(key)).name
    path = folder / name
    problem = _name_problem(name, _limit(folder, "PC_NAME_MAX", NAME_MAX))
    if problem:
        raise _rejected(key, problem)
    path_max = _limit(folder, "PC_PATH_MAX", PATH_MAX)
    if len(os.fsencode(path)) >= path_max:
        raise _rejected(key, f"saved as {path} its path would be over the {path_max} bytes a "
                             "path can have")
    if path.resolve().parent != folder.resolve():
        raise BadRequest(f"object key {key!r} rejected: it would be saved outside {folder}")
    return path


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def output_key(path: str, relative: str, function_name: str, request_id: str) -> tuple[str, str]:
    """(bucket, key) of an output file, laid out as SCAR does.

    `path` is the FDL output path `bucket[/folder]`: the file goes to `folder/<relative>`;
    with a bare bucket it goes to `<function>/output/<request id>/<relative>`.
    """
    bucket, folder = split_storage_path(path)
    prefix = folder if folder else f"{function_name}/output/{request_id}"
    return bucket, check_object_key(f"{prefix}/{relative}")


def split_storage_path(path: str) -> tuple[str, str]:
    """`bucket/folder/...` -> (bucket, folder) without surrounding slashes."""
    bucket, _, folder = path.strip("/").partition("/")
    return bucket, folder.strip("/")
