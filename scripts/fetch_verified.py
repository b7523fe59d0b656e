"""Download URL to DEST and check it against a git blob id (the SHA-1 git gives a file's bytes:
of "blob <size>\\0" + the bytes), as a repository's commit records it; on a mismatch the file
is removed and the exit code is 1. Standard library only: it runs in the image's build.

    python fetch_verified.py URL BLOB_ID DEST
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT = 120


def git_blob_id(path: Path) -> str:
    """The git blob id of the file at `path`."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's ids
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(url: str, blob_id: str, dest: Path) -> int:
    if urlsplit(url).scheme not in ("http", "https"):
        print(f"fetch_verified: {url!r} is not an http(s) URL", file=sys.stderr)
        return 2
    with urllib.request.urlopen(url, timeout=TIMEOUT) as answer, dest.open("wb") as sink:  # noqa: S310
        shutil.copyfileobj(answer, sink)
    found = git_blob_id(dest)
    if found != blob_id.lower():
        dest.unlink()
        print(f"fetch_verified: {url} has git blob id {found}, expected {blob_id}: "
              "refusing it (the file changed or was tampered with)", file=sys.stderr)
        return 1
    print(f"fetch_verified: {dest} ({dest.stat().st_size} bytes) matches git blob {found}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
