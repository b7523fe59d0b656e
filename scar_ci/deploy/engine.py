"""plan / deploy / teardown / ls: the desired state against the cloud, through one `Aws`."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import groupby

from scar_ci.aws.apigateway import discover_apis, invoke_url
from scar_ci.aws.batch import JobQueue, discover_batch, require_batch
from scar_ci.aws.ecr import ImageOptions, discover_repositories
from scar_ci.aws.iam import discover_roles
from scar_ci.aws.lambda_ import discover_functions
from scar_ci.aws.logs import discover_log_groups
from scar_ci.aws.resource import Resource, paginate
from scar_ci.aws.s3 import discover_buckets
from scar_ci.aws.session import Aws
from scar_ci.aws.ssm import discover_storage_credentials
from scar_ci.aws.triggers import discover_triggers
from scar_ci.deploy.apply import apply_plan
from scar_ci.deploy.desired import Desired, UnsupportedFunction, desired_state
from scar_ci.deploy.lock import scope_lock
from scar_ci.deploy.plan import Plan
from scar_ci.fdl import Fdl
from scar_ci.oscar.clusters import Oscar
from scar_ci.oscar.service import OscarService
from scar_ci.package.image.builder_choice import Builder
from scar_ci.package.layer import layer_bytes
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import (
    TAG_FUNCTION,
    TAG_IMAGE,
    TAG_LAMBDA,
    TAG_MANAGED,
    TAG_SCOPE,
    TAG_STAGE,
    TAG_SUPERVISOR,
    scope_label,
)


def aws_for(fdl: Fdl) -> Aws:
    """The session for the FDL's region and profile (one region per deployment)."""
    places = {(f.region, f.boto_profile) for f in fdl.functions}
    if len(places) > 1:
        shown = ", ".join(sorted(f"{region}/{profile or 'default'}" for region, profile in places))
        raise UnsupportedFunction(f"{fdl.path}: functions in several regions or profiles "
                                  f"({shown}); deploy them from separate FDL files")
    region, profile = places.pop() if places else (None, None)
    return Aws(region, profile)


def discover(aws: Aws | None, scope: Scope, oscar: Oscar | None = None) -> list[Resource]:
    """Everything live that is tagged for `scope` (the layer excepted: scopes share it), on
    AWS (unless `aws` is None) and on the OSCAR clusters `oscar` knows."""
    found: list[Resource] = list(oscar.discover(scope)) if oscar else []
    if aws is None:
        return found
    found.extend(api for api, _ in discover_apis(aws, scope))
    for function, _ in discover_functions(aws, scope):
        found.extend(discover_triggers(aws, function.name))
        found.append(function)
    found.extend(discover_batch(aws, scope))
    found.extend(discover_repositories(aws, scope))
    found.extend(discover_buckets(aws, scope))
    found.extend(discover_log_groups(aws, scope))
    found.extend(discover_storage_credentials(aws, scope))
    found.extend(discover_roles(aws, scope))
    return found


def supervisor_layer() -> tuple[bytes, str]:
    """The layer zip and its sha256 hex."""
    content = layer_bytes()
    return content, hashlib.sha256(content).hexdigest()


def plan_deploy(fdl: Fdl, scope: Scope, aws: Aws, images: ImageOptions | None = None,
                oscar: Oscar | None = None) -> tuple[Plan, Desired]:
    """The deploy plan of `fdl` in `scope`: creates, updates, keeps and the sweeper's deletes;
    `images` chooses the image builder and takes its progress lines. OSCAR services go to
    the clusters `oscar` knows (by default those of the FDL and its configuration); an FDL
    without `functions.aws` makes no AWS call."""
    from scar_ci.aws.inventory import scope_created
    from scar_ci.deploy.plan import make_plan

    oscar = oscar if oscar is not None else Oscar.of(fdl)
    if scope.created is None:
        created = scope_created(aws, scope) if fdl.functions else oscar.created(scope)
        scope = replace(scope, created=created)
    desired = desired_state(fdl, scope, aws, supervisor_layer(), images)
    desired.resources.extend(oscar.desired(fdl, scope))
    if any(isinstance(r, JobQueue) for r in desired.resources):
        require_batch(aws)
    found = discover(aws if fdl.functions else None, scope, oscar)
    plan = make_plan(scope.describe(), desired.resources, found, aws,
                     reason=f"no longer in {fdl.path.name}")
    return plan, desired


def plan_teardown(scope: Scope, aws: Aws, *, delete_data: bool = False,
                  oscar: Oscar | None = None) -> Plan:
    """Delete everything of `scope`, found by tag and name whatever the FDL says today."""
    from scar_ci.deploy.plan import make_plan

    return make_plan(scope.describe(), [], discover(aws, scope, oscar), aws,
                     delete_data=delete_data, reason="teardown")


def deploy(fdl: Fdl, scope: Scope, aws: Aws, say: Callable[[str], None] = print,
           builder: Builder = "auto", oscar: Oscar | None = None
           ) -> tuple[Plan, dict[str, str]]:
    """Plan, say the plan, apply it, holding the scope's lock; returns the plan and the URLs:
    API URLs by function, `/run/` URLs by `<cluster>/<service>`. Image functions are built by
    `builder`, which says what it does through `say`."""
    started = time.monotonic()
    with scope_lock(aws, scope, "deploy"):
        plan, desired = plan_deploy(fdl, scope, aws, ImageOptions(builder, say), oscar)
        apply_said(plan, "deploy", say, started)
    urls = {fn: api.url(aws) or "" for fn, api in desired.apis.items()}
    urls.update((r.name, r.url()) for r in desired.resources if isinstance(r, OscarService))
    return plan, urls


def teardown(scope: Scope, aws: Aws, *, delete_data: bool = False,
             say: Callable[[str], None] = print, oscar: Oscar | None = None) -> Plan:
    """Plan the teardown of `scope` (on AWS and the clusters `oscar` knows), say it, apply,
    holding the scope's lock."""
    started = time.monotonic()
    with scope_lock(aws, scope, "teardown"):
        plan = plan_teardown(scope, aws, delete_data=delete_data, oscar=oscar)
        apply_said(plan, "teardown", say, started)
    return plan


def apply_said(plan: Plan, command: str, say: Callable[[str], None], started: float) -> None:
    """Say the plan, apply it, say what changed and how long the command took."""
    say(plan.render())
    done = apply_plan(plan, command, say)
    say(f"{command}: {len(done)} change(s) applied, {len(plan.changes) - len(done)} unchanged "
        f"or kept, in {time.monotonic() - started:.1f} s")


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
            yield tags[TAG_LAMBDA], invoke_url(aws, api["id"], tags.get(TAG_STAGE, "scar"))


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
