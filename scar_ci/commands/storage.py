"""put / get / ls -b: files between this machine and bucket paths, with boto3's managed transfer
(multipart above its threshold, parallel parts) and progress lines for big files."""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from scar_ci.aws.session import Aws
from scar_ci.errors import UsageError, UserError

MULTIPART_THRESHOLD = 8 * 1024 * 1024  # boto3's default: bigger files go in parts
PROGRESS_QUARTERS = 4
Say = Callable[[str], None]
_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,255}")  # what boto3 sends at all; S3 narrows it


def bucket_path(text: str) -> tuple[str, str]:
    """`bucket/folder/file` or `s3://bucket/folder/file` -> (bucket, key or folder)."""
    bucket, _, path = text.removeprefix("s3://").strip("/").partition("/")
    if not bucket:
        raise UsageError(f"-b {text!r}: expected BUCKET or BUCKET/PATH")
    if not _BUCKET.fullmatch(bucket):
        raise UsageError(f"-b {text!r}: {bucket!r} is not a bucket name "
                         "(ASCII letters, digits, '.', '-' and '_')")
    return bucket, path.strip("/")


class _Progress:
    """boto3 transfer callback: a line at every quarter of a big file (callbacks come from
    the transfer's threads)."""

    def __init__(self, what: str, size: int, say: Say) -> None:
        self.what, self.size, self.say = what, size, say
        self.done, self.shown = 0, 0
        self.lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self.lock:
            self.done += amount
            quarter = self.done * PROGRESS_QUARTERS // max(self.size, 1)
            if self.size >= MULTIPART_THRESHOLD and quarter > self.shown:
                self.shown = quarter
                self.say(f"{self.what}: {self.done / 2**20:.1f} of {self.size / 2**20:.1f} MiB")


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD)


def put(aws: Aws, local: Path, bucket: str, folder: str, say: Say) -> list[str]:
    """Upload a file to `folder/<its name>`, or a folder's files to `folder/<relative path>`."""
    if local.is_dir():
        files = [(path, path.relative_to(local).as_posix())
                 for path in _files_under(local, say)]
    elif local.is_file():
        files = [(local, local.name)]
    elif local.exists():
        raise UsageError(f"-p {local}: not a regular file or a folder")
    else:
        raise UsageError(f"-p {local}: no such file or folder")
    s3, keys = aws.client("s3"), []
    for path, relative in files:
        key = f"{folder}/{relative}" if folder else relative
        size = path.stat().st_size
        s3.upload_file(str(path), bucket, key, Config=_transfer_config(),
                       Callback=_Progress(f"s3://{bucket}/{key}", size, say))
        say(f"{path} -> s3://{bucket}/{key} ({size} bytes)")
        keys.append(key)
    return keys


def _files_under(folder: Path, say: Say) -> Iterator[Path]:
    """Regular files under `folder`, sorted; links are not followed (one in a checked-out pull
    request could point at the runner's secrets), each skipped one is said."""
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(top) / name
            if stat.S_ISREG(path.lstat().st_mode):
                yield path
            else:
                say(f"skipped {path}: not a regular file (links are not followed)")


@dataclass(frozen=True)
class Stored:
    """One object as `ls -b` shows it."""

    key: str
    size: int
    modified: datetime

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "size": self.size, "modified": self.modified.isoformat()}


def list_files(aws: Aws, bucket: str, path: str) -> list[Stored]:
    """The object `path`, or the objects under the folder `path` (all of them when empty)."""
    from scar_ci.aws.resource import paginate

    prefix = f"{path}/" if path else ""
    found = [Stored(item["Key"], item["Size"], item["LastModified"]) for item in
             paginate(aws.client("s3"), "list_objects_v2", "Contents", Bucket=bucket,
                      Prefix=path)
             if item["Key"] == path or item["Key"].startswith(prefix)]
    return [s for s in found if not s.key.endswith("/")]


def render_files(rows: list[Stored]) -> str:
    if not rows:
        return "no files"
    width = max(len(str(r.size)) for r in rows)
    return "\n".join(f"{r.modified:%Y-%m-%d %H:%M:%S}  {r.size:>{width}}  {r.key}" for r in rows)


def get(aws: Aws, bucket: str, path: str, dest: Path, say: Say) -> list[Path]:
    """Download the object `path` to `dest` (into it when it is a folder), or the folder
    `path` under `dest`, recursively.

    Keys are untrusted: one that would land outside `dest` is refused, not written.
    """
    rows = list_files(aws, bucket, path)
    if not rows:
        raise UserError(f"nothing at s3://{bucket}/{path}")
    single = len(rows) == 1 and rows[0].key == path
    s3, written, refused = aws.client("s3"), [], []
    for row in rows:
        if single and not dest.is_dir():
            target: Path | None = dest
        else:
            relative = PurePosixPath(row.key).name if single else row.key[len(path):]
            target = _inside(dest, relative.lstrip("/"))
        if target is None:
            refused.append(row.key)
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, row.key, str(target), Config=_transfer_config(),
                             Callback=_Progress(f"s3://{bucket}/{row.key}", row.size, say))
        except OSError as error:
            reason = ("a file is in the way of its folder" if isinstance(error, FileExistsError)
                      else error.strerror)
            raise UserError(f"cannot write {target}: {reason}") from None
        say(f"s3://{bucket}/{row.key} -> {target} ({row.size} bytes)")
        written.append(target)
    if refused:
        raise UserError(f"{len(refused)} key(s) not downloaded: they would be written outside "
                        f"{dest} (e.g. {refused[0]!r})")
    return written


def _inside(dest: Path, relative: str) -> Path | None:
    """`dest/relative` when `relative` is a plain relative path, else None."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    target = dest.joinpath(*parts)
    return target if target.resolve().is_relative_to(dest.resolve()) else None
