"""What a run does: the `command` input, or for `auto` the GitHub event; and the scope."""

from __future__ import annotations

from dataclasses import dataclass

from scar_ci.errors import UsageError, UserError
from scar_ci.github.context import PULL_REQUEST_EVENTS, GitHubContext
from scar_ci.scopes.scope import Scope, resolve_scope
from scar_ci.steps.inputs import ActionInputs

PR_DEPLOY = frozenset({"opened", "synchronize", "reopened"})
# Events whose code and scope `auto` knows (besides pull requests and releases): they run a
# ref of this repository, named by GITHUB_REF.
REF_EVENTS = frozenset({"push", "workflow_dispatch", "schedule"})
RELEASE_DEPLOY = frozenset({"published", "released", "prereleased"})
NOTHING = "nothing"


class ForkRefused(UserError):
    """Code from another repository (or from one the event does not name), and `allow-forks`
    is not set."""


@dataclass(frozen=True)
class Decision:
    """The command to run (or `nothing`), why, and the scope it acts on."""

    command: str
    why: str
    scope: Scope | None = None


def _auto(context: GitHubContext | None) -> tuple[str, str]:
    if context is None:
        raise UsageError("command 'auto' decides from the GitHub event, and there is none "
                         "(GITHUB_EVENT_NAME is not set); set the input 'command' to validate, "
                         "plan, deploy, invoke or teardown")
    event, action = context.event_name, context.action or ""
    if event in PULL_REQUEST_EVENTS:
        if action in PR_DEPLOY:
            return "deploy", f"{event} {action}: deploy the preview"
        if action == "closed":
            return "teardown", f"{event} closed: tear the preview down"
        return NOTHING, f"{event} '{action}' changes no code; nothing to deploy"
    if event == "release":
        if action in RELEASE_DEPLOY:
            return "deploy", f"release {action}: deploy the tag"
        if action == "deleted":
            return "teardown", "release deleted: tear the tag's deployment down"
        return NOTHING, f"release '{action}': nothing to deploy"
    if event == "push" and context.deleted:
        return "teardown", "push deleting its ref: tear its deployment down"
    if event in REF_EVENTS:
        return "deploy", f"{event}: deploy"
    return NOTHING, (f"command 'auto' does not act on '{event}' events (it cannot tell which "
                     "code and scope they are about); to act on them, set the inputs command "
                     "and scope")


def _refuse_fork(context: GitHubContext | None) -> None:
    head = context.head if context else None
    if head is None or not head.is_foreign:
        return
    if head.repo:
        where = f"comes from {head.repo}, a fork"
    elif context is not None and context.pull_request is not None:
        where = "comes from a deleted fork"
    else:
        where = "does not say which repository its code comes from (it may be a fork)"
    raise ForkRefused(
        f"{head.what} {where}: scar-action does not deploy code from forks, because the "
        "functions would run that code with this repository's AWS credentials (and a "
        "pull_request_target or workflow_run workflow would hand the fork its secrets). "
        "Review the change and push it to a branch of this repository, or set the input "
        "allow-forks: true if you accept that risk."
    )


def decide(inputs: ActionInputs, context: GitHubContext | None) -> Decision:
    """The decision for this run; ForkRefused before anything touches AWS."""
    if inputs.command == "auto":
        command, why = _auto(context)
    else:
        command, why = inputs.command, f"command {inputs.command}"
    if command in (NOTHING, "validate", "prune"):  # prune judges every scope
        return Decision(command, why)
    if not inputs.allow_forks:
        _refuse_fork(context)
    return Decision(command, why, resolve_scope(inputs.scope, context))
