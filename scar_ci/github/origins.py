"""What a preview belongs to on GitHub: whether its pull request is still open, whether its
branch still exists (GET /repos/{repo}/pulls/{n} and /branches/{branch}); each asked once."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry, UnknownObjectException

from scar_ci.github.api import DEFAULT_API_URL, TIMEOUT, GitHubApiError

if TYPE_CHECKING:
    from collections.abc import Callable

    from github.Repository import Repository

T = TypeVar("T")


class PullState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"
    MISSING = "missing"  # no such pull request (or it was deleted)


class Origins:
    """GitHub's answers about one repository's pull requests and branches."""

    def __init__(self, repository: str, token: str, base_url: str = DEFAULT_API_URL) -> None:
        self.repository = repository
        client = Github(auth=Auth.Token(token), base_url=base_url.rstrip("/"), timeout=TIMEOUT,
                        retry=GithubRetry(total=3), lazy=True, seconds_between_requests=None)
        self._repo: Repository = client.get_repo(repository)
        self.pull_request = cache(self._pull_request)
        self.branch_exists = cache(self._branch_exists)

    def _pull_request(self, number: int) -> PullState:
        """The state of pull request `number`."""
        def ask() -> PullState:
            pull = self._repo.get_pull(number)
            if pull.state == "open":
                return PullState.OPEN
            return PullState.MERGED if pull.merged else PullState.CLOSED

        return self._answer(ask, f"pull request #{number}", PullState.MISSING)

    def _branch_exists(self, name: str) -> bool:
        """Whether the repository has a branch `name`."""
        return self._answer(lambda: bool(self._repo.get_branch(name)), "a branch", False)

    def _answer(self, ask: Callable[[], T], what: str, missing: T) -> T:
        """`ask()`, or `missing` for GitHub's 404; anything else stops the prune: it never
        guesses that a preview is abandoned."""
        try:
            return ask()
        except UnknownObjectException:
            return missing
        except GithubException as error:
            message = error.data.get("message", "") if isinstance(error.data, dict) else ""
            raise GitHubApiError(f"GitHub refused to tell about {what} of {self.repository}: "
                                 f"HTTP {error.status} {message}".rstrip(), error.status) from None
        except requests.RequestException as error:
            raise GitHubApiError(f"cannot reach GitHub to ask about {what} of "
                                 f"{self.repository}: {type(error).__name__}") from None
