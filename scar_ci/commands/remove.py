"""`scar-ci rm`: teardown for one function, the functions of an FDL, or a whole scope.

Removing functions removes what belongs to each alone (its API, triggers, log group, role,
storage credentials, and an image function's ECR repository as `ecr.delete_image` says);
buckets stay, since they hold data and may serve other functions: a scope's teardown removes
them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from scar_ci.aws.resource import Resource
from scar_ci.aws.session import Aws
from scar_ci.commands.output import say_to
from scar_ci.commands.target import ScopeOf, Target, targets
from scar_ci.errors import UsageError, UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_FUNCTION, TAG_LAMBDA, scope_label


def function_resources(aws: Aws, scope: Scope, names: set[str]) -> list[Resource]:
    """The live resources of the functions `names` in `scope`, whatever the FDL says today."""
    from scar_ci.aws.apigateway import discover_apis
    from scar_ci.aws.ecr import discover_repositories
    from scar_ci.aws.iam import discover_roles
    from scar_ci.aws.lambda_ import discover_functions
    from scar_ci.aws.logs import discover_log_groups
    from scar_ci.aws.ssm import discover_storage_credentials, parameter_name
    from scar_ci.aws.triggers import discover_triggers

    found: list[Resource] = [api for api, live in discover_apis(aws, scope)
                             if (live.get("tags") or {}).get(TAG_LAMBDA) in names]
    roles, bases = set(), set()
    for function, tags in discover_functions(aws, scope):
        if function.name in names:
            found.extend(discover_triggers(aws, function.name))
            found.append(function)
            bases.add(tags.get(TAG_FUNCTION, ""))
            roles.add(scope.role_name(f"scar-ci-{tags.get(TAG_FUNCTION, '')}"))
    found.extend(r for r in discover_repositories(aws, scope)
                 if r.tags.get(TAG_FUNCTION) in bases)  # image functions' (ecr.delete_image)
    groups = {f"/aws/lambda/{name}" for name in names}
    found.extend(g for g in discover_log_groups(aws, scope) if g.name in groups)
    found.extend(r for r in discover_roles(aws, scope) if r.name in roles)
    secrets = {parameter_name(name) for name in names}
    found.extend(s for s in discover_storage_credentials(aws, scope) if s.name in secrets)
    return found


def remove_functions(aws: Aws, scope: Scope, names: set[str],
                     say: Callable[[str], None] = print) -> int:
    """Plan and apply the removal; returns how many resources were found."""
    from scar_ci.deploy.engine import apply_said
    from scar_ci.deploy.plan import make_plan

    started = time.monotonic()
    found = function_resources(aws, scope, names)
    plan = make_plan(scope.describe(), [], found, aws, reason="scar-ci rm")
    apply_said(plan, "rm", say, started)
    return len(found)


def _scope_of_deployed(aws: Aws, name: str) -> Scope:
    """The scope a deployed function was deployed in, read from its tags."""
    from scar_ci.aws.resource import absent_ok

    client = aws.client("lambda")
    live = absent_ok(client.get_function, FunctionName=name)
    label = scope_label(live.get("Tags") or {}) if live else None
    if label is None:
        raise UserError(f"no function {name} deployed by scar-ci here ('scar-ci ls' lists them)")
    return Scope.parse(label)


def cmd_rm(args: argparse.Namespace, scope_of: ScopeOf) -> int:
    """Remove one function or service (-n), the FDL's functions and services (-f) or
    everything of a scope."""
    from scar_ci.commands.services import fdl_services, known_clusters, rm_services
    from scar_ci.deploy import engine

    say = say_to()
    if not (args.fdl or args.name):
        if args.scope is None:
            raise UsageError("say what to remove: -n NAME, -f FDL, or --scope SCOPE "
                             "(everything of that scope; production only when named)")
        engine.teardown(scope_of(args), Aws(), delete_data=args.delete_data, say=say,
                        oscar=known_clusters(None, args))
        return 0
    services, only_services = fdl_services(args, scope_of)
    if services:
        rm_services(args, services, required=only_services)
    if only_services:
        return 0
    aws, found = targets(args, scope_of)
    scope = _scope(aws, found, args)
    names = {t.name for t in found}
    if not remove_functions(aws, scope, names, say):
        raise UserError(f"nothing of {', '.join(sorted(names))} found in {scope.describe()}")
    say("buckets are kept (they hold data): 'scar-ci teardown --scope' removes them")
    return 0


def _scope(aws: Aws, found: list[Target], args: argparse.Namespace) -> Scope:
    scope = found[0].scope
    if scope is None:
        return _scope_of_deployed(aws, found[0].name)
    if scope.is_production and args.scope is None:
        raise UsageError("rm would remove functions of the production deployment; "
                         "say so explicitly with --scope production")
    return scope
