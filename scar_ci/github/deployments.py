"""GitHub Deployments: a preview's environment with its URL, made inactive at teardown."""

from __future__ import annotations

from github.GithubObject import NotSet

from scar_ci.github.api import GitHubApi


def record_deployment(api: GitHubApi, *, ref: str, environment: str, url: str,
                      log_url: str, description: str, transient: bool) -> int:
    """Create a deployment of `ref` to `environment`, marked successful with `url`."""
    with api.calling(f"recording a deployment of {ref} to {environment}"):
        deployment = api.repo.create_deployment(
            ref=ref, environment=environment, description=description[:140],
            auto_merge=False, required_contexts=[], transient_environment=transient,
            production_environment=not transient, task="deploy")
        deployment.create_status("success", target_url=log_url,
                                 description=description[:140],
                                 environment_url=url or NotSet)
    return int(deployment.id)


def deactivate_deployments(api: GitHubApi, environment: str, log_url: str) -> list[int]:
    """Mark every deployment of `environment` inactive; their ids."""
    done = []
    with api.calling(f"marking the deployments of {environment} inactive"):
        for deployment in api.repo.get_deployments(environment=environment):
            deployment.create_status("inactive", target_url=log_url,
                                     description="torn down by scar-action")
            done.append(int(deployment.id))
    return done
