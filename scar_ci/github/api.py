"""GitHub's REST API through PyGithub (`$GITHUB_API_URL`, the workflow token): 5xx answers,
429s and secondary rate limits are retried with backoff (PyGithub's GithubRetry, honouring
Retry-After); whatever still fails is one `GitHubApiError` saying what was being done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Repository import Repository

from scar_ci import __version__
from scar_ci.errors import UserError

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT = 30
RETRIES = 3  # after the first try; sleeps 0, 1 and 2 s unless GitHub says Retry-After
BACKOFF = 0.5
RETRIED_STATUSES = [429, *range(500, 600)]  # GithubRetry adds 403 when it is a rate limit
VIEWER = "query { viewer { login } }"


class GitHubApiError(UserError):
    """GitHub refused a call or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubApi:
    """Calls on one repository (`owner/name`) with a token."""

    def __init__(self, repository: str, token: str, base_url: str = DEFAULT_API_URL) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise GitHubApiError(f"GITHUB_API_URL '{base_url}' is not an http(s) URL")
        self.repository = repository
        self.base_url = base_url.rstrip("/")
        retry = GithubRetry(total=RETRIES, backoff_factor=BACKOFF,
                            status_forcelist=RETRIED_STATUSES, raise_on_status=False)
        # A run makes a handful of calls: PyGithub's pauses between requests (meant for bulk
        # writers) would only slow it; the retry above handles a secondary rate limit.
        self.client = Github(auth=Auth.Token(token), base_url=self.base_url, timeout=TIMEOUT,
                             user_agent=f"scar-ci/{__version__}", retry=retry, lazy=True,
                             seconds_between_requests=None, seconds_between_writes=None)

    @cached_property
    def repo(self) -> Repository:
        """The repository, not fetched (every call on it names its own path)."""
        return self.client.get_repo(self.repository)

    @cached_property
    def identity(self) -> str:
        """The login of the token's own account (GraphQL's `viewer`, which installation tokens
        such as the workflow's may read, unlike REST's GET /user)."""
        with self.calling("asking which account the token belongs to"):
            _, answer = self.client.requester.graphql_query(VIEWER, {})
        login = ((answer.get("data") or {}).get("viewer") or {}).get("login")
        if not isinstance(login, str) or not login:
            raise GitHubApiError("GitHub did not say which account the token belongs to")
        return login

    def is_mine(self, author: Any) -> bool:
        """Whether a comment's `user` is the token's own account (a bot's REST login carries
        the `[bot]` suffix that GraphQL may leave out; a person of that name is not it)."""
        login = getattr(author, "login", None)
        me = self.identity
        return login == me or (getattr(author, "type", "") == "Bot"
                               and login == f"{me.removesuffix('[bot]')}[bot]")

    @contextmanager
    def calling(self, doing: str) -> Iterator[None]:
        """Turn what PyGithub and requests raise while `doing` into one GitHubApiError."""
        try:
            yield
        except GithubException as error:
            raise GitHubApiError(f"GitHub refused {doing}: HTTP {error.status} "
                                 f"{_message(error.data)}".rstrip(), error.status) from None
        except requests.RequestException as error:
            raise GitHubApiError(f"cannot reach GitHub at {self.base_url} for {doing}: "
                                 f"{type(error).__name__}") from None


def _message(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message", ""))
    return str(data or "")[:200]
