"""What a preview belongs to on GitHub: whether its pull request is still open, whether its
branch still exists (GET /repos/{repo}/pulls/{n} and /branches/{branch}); each asked once."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from scar_ci.github.api import DEFAULT_API_URL, GitHubApi, GitHubApiError

if TYPE_CHECKING:
    from collections.abc import Callable

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
        self._api = GitHubApi(repository, token, base_url)
        self.pull_request = cache(self._pull_request)
        self.branch_exists = cache(self._branch_exists)

    def _pull_request(self, number: int) -> PullState:
        """The state of pull request `number`."""
        def ask() -> PullState:
            pull = self._api.repo.get_pull(number)
            if pull.state == "open":
                return PullState.OPEN
            return PullState.MERGED if pull.merged else PullState.CLOSED

        return self._answer(ask, f"pull request #{number}", PullState.MISSING)

    def _branch_exists(self, name: str) -> bool:
        """Whether the repository has a branch `name`."""
        return self._answer(lambda: bool(self._api.repo.get_branch(name)), "a branch", False)

    def _answer(self, ask: Callable[[], T], what: str, missing: T) -> T:
        """`ask()`, or `missing` for GitHub's 404; anything else stops the prune: it never
        guesses that a preview is abandoned."""
        try:
            with self._api.calling(f"telling about {what} of {self.repository}"):
                return ask()
        except GitHubApiError as error:
            if error.status == 404:
                return missing
            raise
