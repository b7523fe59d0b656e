"""The sticky pull-request comment: found again by a hidden marker among the token's own
comments (anyone can write the marker), edited, never duplicated."""

from __future__ import annotations

import hashlib

from scar_ci.github.api import GitHubApi


def marker(key: str) -> str:
    """The hidden HTML comment that identifies the comment of `key` (e.g. the FDL's path)."""
    return f"<!-- scar-action:preview:{hashlib.sha256(key.encode()).hexdigest()[:12]} -->"


def upsert_comment(api: GitHubApi, number: int, key: str, body: str, *, create: bool = True
                   ) -> tuple[int | None, bool]:
    """Edit the token's own comment of `key` on issue/PR `number`, or create it (unless
    `create` is False); (comment id or None, created?)."""
    tag = marker(key)
    text = f"{tag}\n{body}"
    issue = api.repo.get_issue(number)
    with api.calling(f"listing the comments of #{number}"):
        mine = next((comment for comment in issue.get_comments()
                     if tag in (comment.body or "") and api.is_mine(comment.user)), None)
    if mine is not None:
        if mine.body != text:
            with api.calling(f"editing comment {mine.id} of #{number}"):
                mine.edit(text)
        return mine.id, False
    if not create:
        return None, False
    with api.calling(f"commenting on #{number}"):
        return issue.create_comment(text).id, True
