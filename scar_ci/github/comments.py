"""The sticky pull-request comment: found again by a hidden marker, edited, never duplicated."""

from __future__ import annotations

import hashlib

from scar_ci.github.api import GitHubApi


def marker(key: str) -> str:
    """The hidden HTML comment that identifies the comment of `key` (e.g. the FDL's path)."""
    return f"<!-- scar-action:preview:{hashlib.sha256(key.encode()).hexdigest()[:12]} -->"


def upsert_comment(api: GitHubApi, number: int, key: str, body: str, *, create: bool = True
                   ) -> tuple[int | None, bool]:
    """Edit the comment of `key` on issue/PR `number`, or create it (unless `create` is
    False); (comment id or None, created?)."""
    tag = marker(key)
    text = f"{tag}\n{body}"
    for comment in api.pages(f"issues/{number}/comments"):
        if tag in (comment.get("body") or ""):
            if comment.get("body") != text:
                api.send("PATCH", f"issues/comments/{comment['id']}", {"body": text})
            return comment["id"], False
    if not create:
        return None, False
    created = api.send("POST", f"issues/{number}/comments", {"body": text})
    return created["id"], True
