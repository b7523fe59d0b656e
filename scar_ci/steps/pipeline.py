"""One run of the action: decide, validate, build and plan, apply, smoke test, report.

Every step is a collapsible log group with its duration. Results go to the job summary,
the step outputs and, for pull requests, the sticky comment and the Deployment.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from scar_ci.aws.ecr import ImageOptions
from scar_ci.aws.s3 import split_path
from scar_ci.aws.session import Aws
from scar_ci.commands.output import say_to
from scar_ci.deploy import engine
from scar_ci.deploy.plan import PAST, Plan, Verb
from scar_ci.errors import UserError
from scar_ci.fdl import Fdl, load_fdl
from scar_ci.fdl.config import scar_config
from scar_ci.github.context import GitHubContext, load_context
from scar_ci.github.outputs import write_outputs
from scar_ci.github.workflow import group, mask, warn
from scar_ci.oscar.access import secrets_given as oscar_secrets
from scar_ci.oscar.clusters import Oscar
from scar_ci.oscar.service import OscarService
from scar_ci.package.image.builder_choice import chosen_builder
from scar_ci.scopes.scope import Scope, ScopeKind
from scar_ci.secret_sinks import mask_secrets_with
from scar_ci.steps import smoke
from scar_ci.steps.decide import NOTHING, Decision, decide
from scar_ci.steps.inputs import ActionInputs, InputError
from scar_ci.steps.preview import PullRequestPreview
from scar_ci.steps.summary import (
    FunctionRow,
    SmokeResult,
    cell,
    code,
    render_summary,
    write_summary,
)
from scar_ci.steps.sweep import do_drift, do_prune

OUTPUT_MAX = 512 * 1024  # GitHub keeps at most 1 MB of outputs per job
_HEADINGS = {ScopeKind.PR: "preview", ScopeKind.BRANCH: "preview", ScopeKind.TAG: "release",
             ScopeKind.PRODUCTION: "production", ScopeKind.MANUAL: "deployment"}


class SmokeFailed(UserError):
    """The smoke invocation answered with an error."""


class Run:
    """The state of one run, shared by its steps."""

    def __init__(self, inputs: ActionInputs, env: Mapping[str, str]) -> None:
        self.inputs = inputs
        self.env = env
        self.workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd())
        self.context: GitHubContext | None = load_context(env)
        self.decision: Decision = decide(inputs, self.context)

    @property
    def scope(self) -> Scope:
        if self.decision.scope is None:
            raise RuntimeError(f"the run has no scope to act on ({self.decision.why})")
        return self.decision.scope

    def heading(self) -> str:
        return _HEADINGS[self.scope.kind]

    def load(self) -> Fdl:
        with group(f"validate {self.inputs.fdl}"):
            fdl = load_fdl(self.inputs.fdl)
            mask(oscar_secrets(fdl, environ=self.env))
            print(f"{self.inputs.fdl}: valid, {len(fdl.functions)} function(s): "
                  f"{', '.join(f.name for f in fdl.functions) or 'none'}"
                  + (f", {len(fdl.oscar)} OSCAR service(s)" if fdl.oscar else ""))
        return fdl

    def oscar(self, fdl: Fdl | None) -> Oscar:
        """The OSCAR clusters of the FDL, its configuration and the environment."""
        if fdl is None:
            config = scar_config()
            clusters = dict(config.oscar_clusters) if config else {}
            mask(oscar_secrets(None, clusters, self.env))
            return Oscar.of(None, clusters, self.env)
        return Oscar.of(fdl, environ=self.env)

    def aws(self, fdl: Fdl | None) -> Aws:
        if self.inputs.aws_region:
            return Aws(self.inputs.aws_region)
        return engine.aws_for(fdl) if fdl else Aws()

    def images(self) -> ImageOptions:
        """The image builder (input, else $SCAR_CI_IMAGE_BUILDER, else auto); progress lines
        go to the log."""
        return ImageOptions(chosen_builder(self.inputs.image_builder, self.env), print)

    def preview(self) -> PullRequestPreview | None:
        if not self.inputs.comment_on_pr:
            return None
        return PullRequestPreview.of(self.context, self.inputs.github_token, self.inputs.fdl,
                                     self.env)


def run(inputs: ActionInputs, env: Mapping[str, str] | None = None) -> int:
    """Run the action; the exit code (UserErrors propagate to the caller)."""
    mask_secrets_with(mask)
    mask([inputs.github_token])
    state = Run(inputs, os.environ if env is None else env)
    decision = state.decision
    print(f"scar-action: {decision.why}"
          + (f", {decision.scope.describe()}" if decision.scope else ""), flush=True)
    if decision.command == NOTHING:
        write_summary(f"### scar-action · nothing to do\n\n{cell(decision.why)}\n", state.env)
        return 0
    return COMMANDS[decision.command](state)


def do_validate(state: Run) -> int:
    fdl = state.load()
    names = ", ".join(code(f.name) for f in fdl.functions) or "none"
    services = ", ".join(code(f"{s.cluster_id}/{s.name}") for s in fdl.oscar)
    write_summary(f"### scar-action · validate {code(state.inputs.fdl)}\n\nvalid: "
                  f"{len(fdl.functions)} function(s): {names}"
                  + (f"; {len(fdl.oscar)} OSCAR service(s): {services}" if fdl.oscar else "")
                  + "\n", state.env)
    return 0


def do_plan(state: Run) -> int:
    fdl = state.load()
    with group("build packages and plan"):
        plan, _ = engine.plan_deploy(fdl, state.scope, state.aws(fdl), state.images(),
                                     state.oscar(fdl))
        print(plan.render())
    write_outputs({"plan": plan.to_json()}, state.env)
    write_summary(render_summary(state.heading(), state.scope.label, plan=plan,
                                 plan_title="Plan (not applied)"), state.env)
    return 0


def do_deploy(state: Run) -> int:
    fdl = state.load()
    aws = state.aws(fdl)
    started = time.monotonic()
    with group("build packages and plan"):
        plan, desired = engine.plan_deploy(fdl, state.scope, aws, state.images(),
                                           state.oscar(fdl))
        print(plan.render())
    with group("apply"):
        engine.apply_plan(plan, "deploy", say_to())
        urls = engine.urls_of(desired, aws)
    seconds = time.monotonic() - started
    result = (smoke_test(state, fdl, aws) if state.inputs.smoke_test and fdl.functions
              else None)
    functions = [function_output(aws, state.scope, f.name, urls) for f in fdl.functions]
    write_outputs({
        "functions": json.dumps(functions), "plan": plan.to_json(),
        "api-url": next((f["api_url"] for f in functions if f["api_url"]), ""),
        "invocation-output": result.output[:OUTPUT_MAX] if result else "",
    }, state.env)
    services = [r for r in desired.resources if isinstance(r, OscarService)]
    rows = function_rows(fdl, state.scope, plan, urls, desired.images) + service_rows(
        services, plan)
    write_summary(render_summary(state.heading(), state.scope.label, rows=rows, plan=plan,
                                 seconds=seconds, smoke=result), state.env)
    preview = state.preview()
    if preview:
        with group("pull request comment and deployment"):
            preview.live(state.scope, urls, input_paths(fdl, state.scope), result)
    return check_smoke(result)


def do_invoke(state: Run) -> int:
    fdl = state.load()
    result = smoke_test(state, fdl, state.aws(fdl))
    write_outputs({"invocation-output": result.output[:OUTPUT_MAX]}, state.env)
    write_summary(render_summary(state.heading(), state.scope.label, smoke=result), state.env)
    return check_smoke(result)


def do_teardown(state: Run) -> int:
    fdl = teardown_fdl(state)
    delete_data = {"true": True, "false": False}.get(
        state.inputs.delete_data, state.scope.kind in (ScopeKind.PR, ScopeKind.BRANCH))
    started = time.monotonic()
    with group(f"teardown {state.scope.label}"):
        plan = engine.teardown(state.scope, state.aws(fdl), delete_data=delete_data, say=say_to(),
                               oscar=state.oscar(fdl))
    write_outputs({"plan": plan.to_json(), "functions": "[]", "api-url": ""}, state.env)
    write_summary(render_summary("teardown", state.scope.label, plan=plan,
                                 plan_title="Torn down", seconds=time.monotonic() - started),
                  state.env)
    preview = state.preview()
    if preview:
        with group("pull request comment and deployment"):
            preview.gone(state.scope, sum(c.verb is Verb.DELETE for c in plan.changes))
    return 0


def teardown_fdl(state: Run) -> Fdl | None:
    """The FDL gives the region; a teardown still runs when it is gone or broken."""
    if state.inputs.aws_region or not (state.workspace / state.inputs.fdl).is_file():
        return None
    from scar_ci.fdl import FDLError

    try:
        return state.load()
    except FDLError as error:
        warn(f"{state.inputs.fdl} does not validate ({error.render()}); tearing down with "
             "the default AWS region")
        return None


def smoke_test(state: Run, fdl: Fdl, aws: Aws) -> SmokeResult:
    names = [f.name for f in fdl.functions]
    base = state.inputs.smoke_function or names[0]
    if base not in names:
        raise InputError(f"input 'smoke-function': {base} is not a function of "
                         f"{state.inputs.fdl} ({', '.join(names)})")
    request = smoke.SmokeRequest.of(state.inputs.smoke_payload, state.inputs.smoke_file,
                                    state.workspace)
    name = state.scope.function_name(base)
    with group(f"smoke test {name}"):
        result = smoke.invoke(aws, name, fdl.function(base).timeout, request)
        print(result.output)
        print(f"smoke test {'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s")
    return result


def check_smoke(result: SmokeResult | None) -> int:
    if result is not None and not result.ok:
        raise SmokeFailed(f"the smoke test of {result.function} failed (its output is in the "
                          f"job summary; the whole log: {result.how_to_see_more})")
    return 0


def function_output(aws: Aws, scope: Scope, base: str, urls: Mapping[str, str]
                    ) -> dict[str, str]:
    name = scope.function_name(base)
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return {"name": base, "function": name, "arn": arn, "api_url": urls.get(name, ""),
            "scope": scope.label}


def function_rows(fdl: Fdl, scope: Scope, plan: Plan, urls: Mapping[str, str],
                  images: Mapping[str, str] | None = None) -> list[FunctionRow]:
    """The summary's functions table; `images` names what image functions really run (the
    pushed `host/repo:tag`) by deployed name, else the FDL's image is shown."""
    verbs = {c.name: c.verb for c in plan.changes if c.kind == "function"}
    rows = []
    for f in fdl.functions:
        name = scope.function_name(f.name)
        image = (images or {}).get(name) or f.container.image or (
            f.container.image_file.name if f.container.image_file else "")
        runtime = "image" if f.uses_image_runtime else "udocker"
        rows.append(FunctionRow(name, runtime, image, f.memory, urls.get(name, ""),
                                PAST[verbs.get(name, Verb.KEEP)]))
    return rows


def service_rows(services: list[OscarService], plan: Plan) -> list[FunctionRow]:
    """The summary's rows of OSCAR services (`<cluster>/<service>`, runtime `oscar`)."""
    verbs = {c.name: c.verb for c in plan.changes if c.kind == "service"}
    return [FunctionRow(s.name, "oscar", str(s.definition.get("image", "")),
                        str(s.definition.get("memory", "")), s.url(),
                        PAST[verbs.get(s.name, Verb.KEEP)])
            for s in services]


def input_paths(fdl: Fdl, scope: Scope) -> list[str]:
    """Where users upload: inputs on the deployment's own buckets that no function writes."""
    outputs = {ref.path for f in fdl.functions for ref in f.output}
    paths = []
    for ref in (ref for f in fdl.functions for ref in f.input):
        if ref.storage_provider == "s3" and ref.path not in outputs:
            bucket, folder = split_path(ref.path)
            paths.append(f"{scope.bucket(bucket)}/{folder}".rstrip("/"))
    return list(dict.fromkeys(paths))


COMMANDS = {"validate": do_validate, "plan": do_plan, "deploy": do_deploy,
            "invoke": do_invoke, "teardown": do_teardown, "prune": do_prune, "drift": do_drift}
