"""The assembler: plan, deploy, teardown, rm and ls of the CLI and the action, each made of
the same stages: the desired state (pure), the build, the discovery, the plan, the apply."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from functools import partial
from itertools import groupby

from scar_ci.aws.apigateway import url_of
from scar_ci.aws.batch import JobQueue, require_batch
from scar_ci.aws.ecr import ImageOptions
from scar_ci.aws.inventory import created_of, scope_resources
from scar_ci.aws.resource import paginate
from scar_ci.aws.session import Aws
from scar_ci.deploy.apply import apply_plan
from scar_ci.deploy.build import build, supervisor_layer
from scar_ci.deploy.desired import (
    Desired,
    UnsupportedFunction,
    check_deployable,
    desired_state,
)
from scar_ci.deploy.discovery import discover, of_functions
from scar_ci.deploy.lock import scope_lock
from scar_ci.deploy.plan import Plan, make_plan
from scar_ci.deploy.prerequisites import check_prerequisites
from scar_ci.fdl import Fdl
from scar_ci.oscar.clusters import Oscar
from scar_ci.oscar.desired import after_services
from scar_ci.oscar.service import OscarService
from scar_ci.package.image.builder_choice import Builder
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import (
    TAG_FUNCTION,
    TAG_IMAGE,
    TAG_LAMBDA,
    TAG_MANAGED,
    TAG_SCOPE,
    TAG_SUPERVISOR,
    scope_label,
)

Say = Callable[[str], None]


def aws_for(fdl: Fdl) -> Aws:
    """The session for the FDL's region and profile (one region per deployment)."""
    places = {(f.region, f.boto_profile) for f in fdl.functions}
    if len(places) > 1:
        shown = ", ".join(sorted(f"{region}/{profile or 'default'}" for region, profile in places))
        raise UnsupportedFunction(f"{fdl.path}: functions in several regions or profiles "
                                  f"({shown}); deploy them from separate FDL files")
    region, profile = places.pop() if places else (None, None)
    return Aws(region, profile)


def plan_deploy(fdl: Fdl, scope: Scope, aws: Aws, images: ImageOptions | None = None,
                oscar: Oscar | None = None, *, additive: bool = False) -> tuple[Plan, Desired]:
    """The deploy plan of `fdl` in `scope`: creates, updates, keeps and the sweeper's deletes;
    `images` chooses the image builder and takes its progress lines. OSCAR services go to
    the clusters `oscar` knows (by default those of the FDL and its configuration); an FDL
    without `functions.aws` makes no AWS call. `additive` (SCAR's `init`) leaves the scope's
    other functions and services alone: only what the FDL's functions no longer need is
    deleted."""
    check_deployable(fdl)  # before the account is read: a refusal makes no AWS call
    layer = supervisor_layer(fdl)  # also before any AWS call: engines missing or unverified
    oscar = oscar if oscar is not None else Oscar.of(fdl)
    listed = scope_resources(aws, scope) if fdl.functions else None  # one tagging pass
    if scope.created is None:
        # a scope with nothing on AWS yet may have services: it was created when they were
        created = (created_of(listed, partial(oscar.created, scope)) if fdl.functions
                   else oscar.created(scope))
        scope = replace(scope, created=created)
    desired = desired_state(fdl, scope, aws.account if fdl.functions else None,
                            layer, images)
    desired.resources.extend(oscar.desired(fdl, scope))
    after_services(desired.resources, fdl, scope)  # Lambda -> MinIO -> OSCAR
    if any(isinstance(r, JobQueue) for r in desired.resources):
        require_batch(aws)
    build(desired.resources, aws)
    with aws.planning():
        # additive: the FDL's own functions are looked at too (what they no longer need)
        known = set() if additive else {r.key for r in desired.resources}
        found = discover(aws if fdl.functions else None, scope, known, oscar=oscar,
                         desired=desired.resources, listed=listed)
        if additive:
            wanted = {(r.kind, r.name) for r in desired.resources}
            own = of_functions(found, {scope.function_name(f.name) for f in fdl.functions})
            found = list({(r.kind, r.name): r for r in (*own, *(r for r in found if
                                                                 (r.kind, r.name) in wanted))
                          }.values())
        plan = make_plan(scope.describe(), desired.resources, found, aws,
                         reason=f"no longer in {fdl.path.name}")
        check_prerequisites(fdl, aws)  # a role or layer the apply would stop at
    return plan, desired


def plan_teardown(scope: Scope, aws: Aws, *, delete_data: bool = False,
                  oscar: Oscar | None = None) -> Plan:
    """Delete everything of `scope` (on AWS and the clusters `oscar` knows), found by tag and
    name whatever the FDL says today."""
    with aws.planning():
        return make_plan(scope.describe(), [], discover(aws, scope, oscar=oscar), aws,
                         delete_data=delete_data, reason="teardown")


def plan_removal(scope: Scope, aws: Aws, names: Collection[str]) -> tuple[Plan, int]:
    """Delete what belongs to the deployed functions `names` alone (buckets stay); the plan
    and how many live resources it found."""
    with aws.planning():
        found = of_functions(discover(aws, scope), names)
        return make_plan(scope.describe(), [], found, aws, reason="scar-ci rm"), len(found)


def deploy(fdl: Fdl, scope: Scope, aws: Aws, say: Say = print, builder: Builder = "auto",
           oscar: Oscar | None = None, *, additive: bool = False
           ) -> tuple[Plan, dict[str, str]]:
    """Plan, say the plan, apply it, holding the scope's lock; returns the plan and the URLs:
    API URLs by function, `/run/` URLs by `<cluster>/<service>`. Image functions are built by
    `builder`, which says what it does through `say`; `additive` as for plan_deploy."""
    started = time.monotonic()
    with scope_lock(aws, scope, "deploy"):
        plan, desired = plan_deploy(fdl, scope, aws, ImageOptions(builder, say), oscar,
                                    additive=additive)
        apply_said(plan, "deploy", say, started)
    return plan, urls_of(desired, aws)


def urls_of(desired: Desired, aws: Aws) -> dict[str, str]:
    """Where the deployment answers: each function's API URL, each OSCAR service's `/run/`."""
    urls = {fn: api.url(aws) or "" for fn, api in desired.apis.items()}
    urls.update((r.name, r.url()) for r in desired.resources if isinstance(r, OscarService))
    return urls


def teardown(scope: Scope, aws: Aws, *, delete_data: bool = False, say: Say = print,
             oscar: Oscar | None = None) -> Plan:
    """Plan the teardown of `scope` (on AWS and the clusters `oscar` knows), say it, apply,
    holding the scope's lock."""
    started = time.monotonic()
    with scope_lock(aws, scope, "teardown"):
        plan = plan_teardown(scope, aws, delete_data=delete_data, oscar=oscar)
        apply_said(plan, "teardown", say, started)
    return plan


def remove(scope: Scope, aws: Aws, names: Collection[str], say: Say = print) -> int:
    """Plan the removal of the functions `names`, say it, apply it; how many resources were
    found."""
    started = time.monotonic()
    with scope_lock(aws, scope, "rm"):
        plan, found = plan_removal(scope, aws, names)
        apply_said(plan, "rm", say, started)
    return found


def apply_said(plan: Plan, command: str, say: Say, started: float) -> None:
    """Say the plan, apply it, say what changed and how long the command took: the changes
    applied (creates, updates, deletes done) and the plan's keeps, which apply nothing."""
    say(plan.render())
    done = apply_plan(plan, command, say)
    kept = len(plan.changes) - len(plan.mutating)
    say(f"{command}: {len(done)} change(s) applied, {kept} unchanged or kept, in "
        f"{time.monotonic() - started:.1f} s")


@dataclass(frozen=True)
class Deployed:
    """One deployed function as `ls` shows it."""

    scope: str
    function: str
    fdl_function: str
    image: str
    memory: int
    url: str
    timeout: int = 0
    supervisor: str = ""  # the supervisor layer's `sha256:<16 hex>`

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def list_deployed(aws: Aws, scope: Scope | None = None) -> list[Deployed]:
    """The functions scar-ci deployed (in `scope`, or in every scope), with their API URLs."""
    urls = dict(api_urls(aws, scope))
    client = aws.client("lambda")
    rows = []
    for live in paginate(client, "list_functions", "Functions"):
        tags = client.list_tags(Resource=live["FunctionArn"]).get("Tags", {})
        label = scope_label(tags)
        if label is None or (scope is not None and not scope.owns(tags)):
            continue
        name = live["FunctionName"]
        rows.append(Deployed(label, name, tags.get(TAG_FUNCTION, ""), tags.get(TAG_IMAGE, ""),
                             live.get("MemorySize", 0), urls.get(name, ""),
                             live.get("Timeout", 0), tags.get(TAG_SUPERVISOR, "")))
    return sorted(rows, key=lambda d: (d.scope, d.function))


def api_urls(aws: Aws, scope: Scope | None) -> Iterator[tuple[str, str]]:
    """(deployed function, API URL) of the APIs scar-ci made (in `scope`, or in all)."""
    for api in paginate(aws.client("apigateway"), "get_rest_apis", "items"):
        tags = api.get("tags") or {}
        if tags.get(TAG_MANAGED) == "true" and TAG_LAMBDA in tags and (
                scope is None or tags.get(TAG_SCOPE) == scope.label):
            yield tags[TAG_LAMBDA], url_of(aws, api)


def render_deployed(rows: list[Deployed]) -> str:
    """`ls`'s table: one block per scope."""
    if not rows:
        return "no functions deployed by scar-ci here"
    width = max(len(r.function) for r in rows)
    lines: list[str] = []
    for scope, group in groupby(rows, key=lambda r: r.scope):
        lines.append(f"scope {scope}")
        lines.extend(f"  {r.function:<{width}}  {r.memory:>5} MB  {r.timeout:>4} s  "
                     f"{r.image or '-'}  {r.url or '-'}  supervisor {r.supervisor or '-'}"
                     for r in group)
    return "\n".join(lines)
