"""A pull request's preview on GitHub: the sticky comment and the Deployment with its URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from scar_ci.github.api import DEFAULT_API_URL, GitHubApi, GitHubApiError
from scar_ci.github.comments import upsert_comment
from scar_ci.github.context import GitHubContext
from scar_ci.github.deployments import deactivate_deployments, record_deployment
from scar_ci.github.workflow import warn
from scar_ci.scopes.scope import Scope
from scar_ci.steps.summary import SmokeResult, code, link

PERMISSIONS = ("the job needs `permissions: pull-requests: write` and `deployments: write` "
               "(or set comment-on-pr: false)")


@dataclass(frozen=True)
class PullRequestPreview:
    """Where to report: the API, the pull request, the run's page, the commit."""

    api: GitHubApi
    number: int
    head_ref: str
    key: str  # tells this FDL's comment apart from other FDLs' in the same PR
    log_url: str
    sha: str

    @classmethod
    def of(cls, context: GitHubContext | None, token: str, fdl: str,
           env: Mapping[str, str]) -> PullRequestPreview | None:
        """The preview to report to, or None when the run is not about a pull request."""
        pr = context.pull_request if context else None
        if context is None or pr is None:
            return None
        return cls.for_pull_request(context, token, fdl, env, pr.number, pr.head_ref)

    @classmethod
    def for_pull_request(cls, context: GitHubContext, token: str, fdl: str,
                         env: Mapping[str, str], number: int, head_ref: str = ""
                         ) -> PullRequestPreview | None:
        """The preview of pull request `number` of the run's repository (prune reports on
        previews other than the run's own), or None without a token."""
        if not token:
            warn("comment-on-pr is on but the input github-token is empty; no comment posted")
            return None
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        log_url = f"{server}/{context.repository}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
        api = GitHubApi(context.repository, token, env.get("GITHUB_API_URL") or DEFAULT_API_URL)
        return cls(api, number, head_ref, fdl, log_url, context.sha)

    def live(self, scope: Scope, urls: Mapping[str, str], inputs: Sequence[str],
             smoke: SmokeResult | None) -> None:
        """Say the preview is live (comment) and record the Deployment with its first URL."""
        when = time.strftime("%H:%M UTC", time.gmtime())
        lines = [f"**Preview {code(scope.label)} is live** — updated for "
                 f"{code(self.sha[:7])} at {when}", ""]
        lines += [f"- {code(name)}: {link(url)}" for name, url in urls.items() if url]
        lines += [f"- upload inputs to {code(f's3://{path}/')}" for path in inputs]
        if smoke:
            verdict = "ok" if smoke.ok else "**failed** (see the job summary)"
            lines.append(f"- smoke test of {code(smoke.function)}: {verdict}")
        lines += ["", f"It is torn down when this pull request closes. [Run log]({self.log_url})"]
        self._report(lambda: upsert_comment(self.api, self.number, self.key, "\n".join(lines)))
        first = next((url for url in urls.values() if url), "")
        self._report(lambda: record_deployment(
            self.api, ref=self.head_ref, environment=scope.label, url=first,
            log_url=self.log_url, description=f"scar-action preview {scope.label}",
            transient=True))

    def gone(self, scope: Scope, deleted: int) -> None:
        """Say the preview was torn down (if it had a comment); its Deployments inactive."""
        when = time.strftime("%H:%M UTC", time.gmtime())
        body = (f"**Preview {code(scope.label)} was torn down** at {when}: {deleted} "
                f"resource(s) deleted. [Run log]({self.log_url})")
        self._report(lambda: upsert_comment(self.api, self.number, self.key, body,
                                            create=False))
        self._report(lambda: deactivate_deployments(self.api, scope.label, self.log_url))

    @staticmethod
    def _report(call: Callable[[], object]) -> None:
        """Run one GitHub call; a refusal is a warning: the deployment itself succeeded."""
        try:
            call()
        except GitHubApiError as error:
            hint = f"; {PERMISSIONS}" if error.status in (401, 403, 404) else ""
            warn(f"{error}{hint}")
