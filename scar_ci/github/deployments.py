"""GitHub Deployments: a preview's environment with its URL, made inactive at teardown."""

from __future__ import annotations

from urllib.parse import quote

from scar_ci.github.api import GitHubApi


def record_deployment(api: GitHubApi, *, ref: str, environment: str, url: str,
                      log_url: str, description: str, transient: bool) -> int:
    """Create a deployment of `ref` to `environment`, marked successful with `url`."""
    deployment = api.send("POST", "deployments", {
        "ref": ref, "environment": environment, "description": description[:140],
        "auto_merge": False, "required_contexts": [], "transient_environment": transient,
        "production_environment": not transient, "task": "deploy",
    })
    status: dict[str, object] = {"state": "success", "log_url": log_url,
                                 "description": description[:140]}
    if url:
        status["environment_url"] = url
    api.send("POST", f"deployments/{deployment['id']}/statuses", status)
    return int(deployment["id"])


def deactivate_deployments(api: GitHubApi, environment: str, log_url: str) -> list[int]:
    """Mark every deployment of `environment` inactive; their ids."""
    done = []
    for deployment in api.pages(f"deployments?environment={quote(environment, safe='')}"):
        api.send("POST", f"deployments/{deployment['id']}/statuses",
                 {"state": "inactive", "log_url": log_url,
                  "description": "torn down by scar-action"})
        done.append(int(deployment["id"]))
    return done
