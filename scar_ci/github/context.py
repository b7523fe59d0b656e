"""The GitHub Actions run context: event, ref, repository, pull request and release.

Read from the variables the runner sets (GITHUB_EVENT_NAME, GITHUB_REF, ...) and from the event
payload that GITHUB_EVENT_PATH points at. Everything here is untrusted data: branch names,
tags and repository names are kept as given and never interpreted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scar_ci.errors import UserError

PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
# Events whose payload carries the pull request itself (head and base), as the two above do.
PULL_REQUEST_PAYLOADS = PULL_REQUEST_EVENTS | {"pull_request_review",
                                               "pull_request_review_comment"}
# Events about code whose repository their payload does not say (a fork's pull request or
# commit may be behind them).
UNNAMED_HEAD_EVENTS = frozenset({"check_run", "check_suite"})


class EventFileError(UserError):
    """The event payload named by GITHUB_EVENT_PATH is missing or not what GitHub writes."""


@dataclass(frozen=True)
class PullRequest:
    """The pull request a `pull_request` / `pull_request_target` event is about."""

    number: int
    action: str
    head_ref: str
    head_repo: str | None  # owner/name of the head; None when the fork has been deleted
    base_repo: str

    @property
    def is_fork(self) -> bool:
        """True when the head lives in another repository (its code and secrets are foreign).

        The repository's own `fork` flag is not used: it is also true for a pull request
        between two branches of a repository that happens to be a fork.
        """
        return self.head_repo is None or self.head_repo.casefold() != self.base_repo.casefold()


@dataclass(frozen=True)
class Head:
    """The code an event is about when it may come from another repository than the run's."""

    what: str  # for messages: "pull request #57", "the workflow run 'CI' (pull_request)", ...
    repo: str | None  # owner/name of the code's repository; None when the event does not say
    base: str  # owner/name of the repository the run belongs to

    @property
    def is_foreign(self) -> bool:
        """True unless the code is known to live in the run's own repository."""
        return self.repo is None or self.repo.casefold() != self.base.casefold()


@dataclass(frozen=True)
class GitHubContext:
    """What a workflow run is about, as GitHub describes it."""

    event_name: str
    repository: str  # owner/name
    sha: str
    ref: str  # e.g. refs/heads/main, refs/tags/v1.2.0, refs/pull/42/merge
    head_ref: str  # the pull request's head branch, else ""
    default_branch: str | None
    action: str | None  # the payload's `action` (opened, closed, published, ...)
    pull_request: PullRequest | None
    release_tag: str | None
    deleted: bool  # a push that deleted its ref
    head: Head | None = None  # where the event's code comes from, if it may be elsewhere

    @property
    def branch(self) -> str | None:
        """The branch the run's ref names, if it names one."""
        return _strip(self.ref, "refs/heads/")

    @property
    def tag(self) -> str | None:
        """The release's tag, else the tag the run's ref names, if any."""
        return self.release_tag or _strip(self.ref, "refs/tags/")


def _strip(ref: str, prefix: str) -> str | None:
    name = ref.removeprefix(prefix)
    return name if name != ref and name else None


def load_context(env: Mapping[str, str] | None = None) -> GitHubContext | None:
    """The context of the current GitHub Actions run, or None outside GitHub Actions."""
    env = os.environ if env is None else env
    event_name = env.get("GITHUB_EVENT_NAME", "")
    if not event_name:
        return None
    path = env.get("GITHUB_EVENT_PATH", "")
    event = _Payload(_read_payload(path, event_name), path)
    ref = env.get("GITHUB_REF") or _ref_from(env)
    repository = env.get("GITHUB_REPOSITORY") or event.text("repository", "full_name") or ""
    pull_request = _pull_request(event) if event_name in PULL_REQUEST_PAYLOADS else None
    return GitHubContext(
        event_name=event_name,
        repository=repository,
        sha=env.get("GITHUB_SHA", ""),
        ref=ref,
        head_ref=env.get("GITHUB_HEAD_REF", ""),
        default_branch=event.text("repository", "default_branch"),
        action=event.text("action"),
        pull_request=pull_request,
        release_tag=event.text("release", "tag_name") if event_name == "release" else None,
        deleted=event.flag("deleted"),
        head=_head(event_name, event, pull_request, repository),
    )


def _head(event_name: str, event: _Payload, pull_request: PullRequest | None,
          repository: str) -> Head | None:
    """Where the code of the event comes from, for the events whose code may be a fork's."""
    if pull_request is not None:
        return Head(f"pull request #{pull_request.number}", pull_request.head_repo,
                    pull_request.base_repo)
    if event_name == "workflow_run":
        if not event.has("workflow_run"):
            raise event.wrong(("workflow_run",), "an object", None)
        name = event.text("workflow_run", "name") or "?"
        trigger = event.text("workflow_run", "event") or "?"
        return Head(f"the workflow run '{name}' ({trigger}) that triggered this one",
                    event.text("workflow_run", "head_repository", "full_name"),
                    event.text("workflow_run", "repository", "full_name") or repository)
    if event_name == "issue_comment" and event.has("issue", "pull_request"):
        return Head(f"a comment on pull request #{event.number('issue', 'number')}", None,
                    repository)
    if event_name in UNNAMED_HEAD_EVENTS:
        return Head(f"the {event_name} event", None, repository)
    return None


def _ref_from(env: Mapping[str, str]) -> str:
    """A full ref rebuilt from GITHUB_REF_NAME and GITHUB_REF_TYPE when GITHUB_REF is absent."""
    name, kind = env.get("GITHUB_REF_NAME", ""), env.get("GITHUB_REF_TYPE", "")
    prefix = {"branch": "refs/heads/", "tag": "refs/tags/"}.get(kind)
    return f"{prefix}{name}" if prefix and name else ""


def _read_payload(path: str, event_name: str) -> dict[str, Any]:
    how_to_fix = (
        "GitHub Actions writes it for every run; outside Actions, unset GITHUB_EVENT_NAME "
        "or point GITHUB_EVENT_PATH at a JSON event payload."
    )
    if not path:
        raise EventFileError(
            f"GITHUB_EVENT_NAME is '{event_name}' but GITHUB_EVENT_PATH is not set; {how_to_fix}"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise EventFileError(
            f"cannot read the GitHub event file {path} (GITHUB_EVENT_PATH): {reason}; {how_to_fix}"
        ) from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise EventFileError(
            f"{path}:{error.lineno}:{error.colno}: the GitHub event file (GITHUB_EVENT_PATH) "
            f"is not valid JSON: {error.msg}; {how_to_fix}"
        ) from None
    if not isinstance(payload, dict):
        raise EventFileError(
            f"{path}: the GitHub event file (GITHUB_EVENT_PATH) holds a JSON "
            f"{type(payload).__name__}, not an object; {how_to_fix}"
        )
    return payload


class _Payload:
    """Typed look-ups in an event payload, with errors that name the offending field."""

    def __init__(self, payload: dict[str, Any], path: str) -> None:
        self._payload = payload
        self._path = path

    def _get(self, keys: tuple[str, ...]) -> Any:
        node: Any = self._payload
        for key in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    def wrong(self, keys: tuple[str, ...], expected: str, value: Any) -> EventFileError:
        """The error for a field that is not what GitHub writes there."""
        found = "it is missing" if value is None else f"not {json.dumps(value)[:60]}"
        return EventFileError(
            f"{self._path}: field {'.'.join(keys)} of the GitHub event should be {expected}, "
            f"{found}; is GITHUB_EVENT_PATH the payload of this run's event?"
        )

    def has(self, *keys: str) -> bool:
        """True when the field is present and not null."""
        return self._get(keys) is not None

    def text(self, *keys: str) -> str | None:
        """A string field, or None when absent or null."""
        value = self._get(keys)
        if value is None or isinstance(value, str):
            return value
        raise self.wrong(keys, "a string", value)

    def required_text(self, *keys: str) -> str:
        """A string field that the event always has."""
        value = self.text(*keys)
        if value is None:
            raise self.wrong(keys, "a string", value)
        return value

    def number(self, *keys: str) -> int:
        """A positive integer field that the event always has."""
        value = self._get(keys)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        raise self.wrong(keys, "a positive integer", value)

    def flag(self, *keys: str) -> bool:
        """A boolean field, False when absent."""
        value = self._get(keys)
        if value is None or isinstance(value, bool):
            return bool(value)
        raise self.wrong(keys, "true or false", value)


def _pull_request(event: _Payload) -> PullRequest:
    if not event.has("pull_request"):
        raise event.wrong(("pull_request",), "an object", None)
    return PullRequest(
        number=event.number("pull_request", "number"),
        action=event.text("action") or "",
        head_ref=event.required_text("pull_request", "head", "ref"),
        head_repo=event.text("pull_request", "head", "repo", "full_name"),
        base_repo=event.required_text("pull_request", "base", "repo", "full_name"),
    )
