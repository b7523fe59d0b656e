"""Object keys are untrusted: check them before they name a local file, and lay out output keys."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from scar_ci.supervisor.errors import BadRequest

MAX_KEY_LENGTH = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_object_key(key: str) -> str:
    """Return `key` if it is a plain relative object key, else raise BadRequest saying why."""
    problem = _key_problem(key)
    if problem:
        raise BadRequest(
            f"object key {key!r} rejected: {problem}; "
            "rename the object to a plain relative key such as 'input/photo.png'"
        )
    return key


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
    return None


def local_path_for_key(folder: Path, key: str) -> Path:
    """The file in `folder` an object is downloaded to: its checked key's last segment."""
    name = PurePosixPath(check_object_key(key)).name
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise BadRequest(f"object key {key!r} rejected: it would be saved outside {folder}")
    return path


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
