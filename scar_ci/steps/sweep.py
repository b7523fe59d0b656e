"""The action's scheduled commands: `prune` (previews nobody needs) and `drift` (the deployed
scope against the FDL), each reported in the job summary."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from scar_ci.deploy import engine
from scar_ci.deploy.plan import Plan, Verb
from scar_ci.deploy.prune import Verdict, judge_all, prune, rules_from, shown_age
from scar_ci.errors import UserError
from scar_ci.github.outputs import write_outputs
from scar_ci.github.workflow import group
from scar_ci.scopes.scope import ScopeKind
from scar_ci.steps.preview import PullRequestPreview
from scar_ci.steps.summary import cell, code, render_plan, render_summary, write_summary

if TYPE_CHECKING:
    from scar_ci.steps.pipeline import Run


class DriftFound(UserError):
    """The deployed scope differs from the FDL."""


def do_prune(state: Run) -> int:
    inputs = state.inputs
    repository = (state.context.repository if state.context else "") or None
    rules = rules_from(state.env, repository=repository, token=inputs.github_token,
                       older_than=inputs.older_than, named=list(inputs.include))
    aws, oscar = state.aws(None), state.oscar(None)
    with group("find every scope (one tag pass) and ask GitHub about each preview"):
        verdicts = judge_all(aws, rules, oscar)
        for v in verdicts:
            print(f"{'remove' if v.remove else 'keep'} {v.found.scope.label}: {v.why}")
    with group("dry run: the teardowns prune would apply" if inputs.dry_run else "tear down"):
        done = prune(aws, verdicts, dry_run=inputs.dry_run, data=inputs.delete_data,
                     oscar=oscar)
    if not inputs.dry_run:
        report_gone(state, done)
    write_outputs({"pruned": json.dumps([v.found.scope.label for v, _ in done]),
                   "plan": json.dumps([json.loads(p.to_json()) for _, p in done])}, state.env)
    write_summary(render_prune(verdicts, done, inputs.dry_run, repository), state.env)
    return 0


def report_gone(state: Run, done: list[tuple[Verdict, Plan]]) -> None:
    """For each pull request preview removed: its comment says so, its Deployments inactive,
    as the close event's teardown does (with comment-on-pr)."""
    removed = [(v.found.scope, plan) for v, plan in done if v.found.scope.kind is ScopeKind.PR]
    if not (removed and state.inputs.comment_on_pr and state.context):
        return
    with group("pull request comments and deployments of the removed previews"):
        for scope, plan in removed:
            preview = PullRequestPreview.for_pull_request(
                state.context, state.inputs.github_token, state.inputs.fdl, state.env,
                int(scope.ident or 0))
            if preview:
                preview.gone(scope, sum(c.verb is Verb.DELETE for c in plan.changes))


def render_prune(verdicts: list[Verdict], done: list[tuple[Verdict, Plan]], dry_run: bool,
                 repository: str | None) -> str:
    """The prune's summary: one row per scope of `repository` (removed or kept, and why), the
    count of the others', then the teardown plans."""
    title = "prune (dry run: nothing changed)" if dry_run else "prune"
    removed = "would remove" if dry_run else "removed"
    others = sum(v.found.scope.source != repository for v in verdicts)
    verdicts = [v for v in verdicts if v.found.scope.source == repository]
    lines = [f"### scar-action · {title}", "",
             f"{sum(v.remove for v in verdicts)} {removed}, "
             f"{sum(not v.remove for v in verdicts)} kept; {others} scope(s) of other "
             "repositories (or deployed outside GitHub) left alone", ""]
    if verdicts:
        lines += ["| scope | origin | repository | age | | why |", "|---|---|---|---|---|---|"]
        lines += [f"| {code(v.found.scope.label)} | {cell(v.found.scope.origin)} | "
                  f"{cell(v.found.scope.source or '')} | "
                  f"{shown_age(v.age) if v.age else '?'} | "
                  f"{removed if v.remove else 'kept'} | {cell(v.why)} |" for v in verdicts]
    for verdict, plan in done:
        lines += ["", render_plan(plan, f"{verdict.found.scope.label}: "
                                        f"{'plan' if dry_run else 'torn down'}")]
    return "\n".join(lines) + "\n"


def do_drift(state: Run) -> int:
    """Plan the scope's deploy; any change is drift: the step fails with the plan."""
    fdl = state.load()
    with group(f"compare {state.scope.label} with {state.inputs.fdl}"):
        plan, _ = engine.plan_deploy(fdl, state.scope, state.aws(fdl), state.images())
        print(plan.render())
    drifted = bool(plan.mutating)
    write_outputs({"plan": plan.to_json(), "drifted": str(drifted).lower()}, state.env)
    title = (f"Drift: {len(plan.mutating)} difference(s) from {state.inputs.fdl} (live -> FDL)"
             if drifted else f"No drift: the deployment matches {state.inputs.fdl}")
    write_summary(render_summary("drift", state.scope.label, plan=plan, plan_title=title),
                  state.env)
    if drifted:
        raise DriftFound(f"{state.scope.describe()} differs from {state.inputs.fdl}: "
                         f"{plan.summary()} The plan is in the job summary; a deploy brings "
                         "it back to the FDL (or change the FDL to what is live).")
    return 0
