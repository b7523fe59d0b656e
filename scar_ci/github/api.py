"""A small client of GitHub's REST API (`$GITHUB_API_URL`, the workflow token), stdlib only."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from scar_ci import __version__
from scar_ci.errors import UserError

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT = 30
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


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
        self._token = token

    def url(self, path: str) -> str:
        """The URL of `path` under the repository (`issues/42/comments`)."""
        return f"{self.base_url}/repos/{self.repository}/{path}"

    def call(self, method: str, url: str, body: Any = None) -> tuple[Any, dict[str, str]]:
        """One request; the decoded JSON answer and the response headers."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"scar-ci/{__version__}",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        what = f"{method} {urlsplit(url).path}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read()
                headers = dict(response.headers.items())
        except urllib.error.HTTPError as error:
            raise GitHubApiError(f"GitHub refused {what}: HTTP {error.code} "
                                 f"{_message(error.read())}", error.code) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise GitHubApiError(f"cannot reach GitHub for {what}: {reason}") from None
        try:
            return (json.loads(raw) if raw else None), headers
        except json.JSONDecodeError:
            raise GitHubApiError(f"GitHub answered {what} with something not JSON") from None

    def send(self, method: str, path: str, body: Any = None) -> Any:
        """`method` on the repository's `path`; the decoded answer."""
        return self.call(method, self.url(path), body)[0]

    def pages(self, path: str) -> Iterator[Any]:
        """Every item of a listed resource, following the `Link: rel="next"` pages."""
        url: str | None = self.url(f"{path}{'&' if '?' in path else '?'}per_page=100")
        while url:
            items, headers = self.call("GET", url)
            yield from items or ()
            found = _NEXT.search(headers.get("Link", ""))
            url = found.group(1) if found else None


def _message(raw: bytes) -> str:
    try:
        answer = json.loads(raw)
    except json.JSONDecodeError:
        return raw[:200].decode(errors="replace")
    return str(answer.get("message", "")) if isinstance(answer, dict) else ""
