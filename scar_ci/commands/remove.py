"""`scar-ci rm`: teardown for one function, the functions of an FDL, or a whole scope.

Removing functions removes what belongs to each alone (its API, triggers, log group, role,
storage credentials, an image function's ECR repository as `ecr.delete_image` says, a Batch
function's compute environment, job queue and job definition);
buckets stay, since they hold data and may serve other functions: a scope's teardown removes
them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from scar_ci.aws.session import Aws
from scar_ci.commands.output import say_to
from scar_ci.commands.target import ScopeOf, Target, targets
from scar_ci.errors import UsageError, UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import scope_label

if TYPE_CHECKING:
    from scar_ci.deploy.plan import Plan


def remove_functions(aws: Aws, scope: Scope, names: set[str],
                     say: Callable[[str], None] = print) -> Plan:
    """Plan and apply the removal; returns the plan applied (empty when nothing was found)."""
    from scar_ci.deploy import engine

    started = time.monotonic()
    plan, _ = engine.plan_removal(scope, aws, names)
    engine.apply_said(plan, "rm", say, started)
    return plan


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
    """Remove one function or service (-n), the FDL's functions and services (-f), every
    function of the scope (-a) or everything of a scope."""
    from scar_ci.commands.services import fdl_services, known_clusters, rm_services
    from scar_ci.deploy import engine

    say = say_to(stderr=args.json)
    if args.all:
        return _remove_all(args, scope_of, say)
    if not (args.fdl or args.name):
        if args.scope is None:
            raise UsageError("say what to remove: -n NAME, -f FDL, -a (every function of the "
                             "scope), or --scope SCOPE (everything of that scope; production "
                             "only when named)")
        plan = engine.teardown(scope_of(args), Aws(profile=args.profile),
                               delete_data=args.delete_data, say=say,
                               oscar=known_clusters(None, args))
        return _shown(plan, args)
    services, only_services = fdl_services(args, scope_of)
    if services:
        rm_services(args, services, required=only_services)
    if only_services:
        return 0
    aws, found = targets(args, scope_of)
    scope = _scope(aws, found, args)
    names = {t.name for t in found}
    plan = remove_functions(aws, scope, names, say)
    if not plan.changes:
        raise UserError(f"nothing of {', '.join(sorted(names))} found in {scope.describe()}")
    say("buckets are kept (they hold data): 'scar-ci teardown --scope' removes them")
    return _shown(plan, args)


def _remove_all(args: argparse.Namespace, scope_of: ScopeOf, say: Callable[[str], None]) -> int:
    """SCAR's `rm -a`: every function of the scope, each with what is its alone."""
    from scar_ci.aws.lambda_ import discover_functions

    if args.fdl or args.name:
        raise UsageError("-a removes every function of the scope: give it without -f or -n")
    scope = scope_of(args)
    _guard_production(scope, args)
    aws = Aws(profile=args.profile)
    names = {function.name for function, _ in discover_functions(aws, scope)}
    if not names:
        say(f"no functions deployed by scar-ci in {scope.describe()}")
        return 0
    plan = remove_functions(aws, scope, names, say)
    say("buckets are kept (they hold data): 'scar-ci teardown --scope' removes them")
    return _shown(plan, args)


def _shown(plan: Plan, args: argparse.Namespace) -> int:
    if args.json:
        print(plan.to_json())
    return 0


def _scope(aws: Aws, found: list[Target], args: argparse.Namespace) -> Scope:
    scope = found[0].scope
    if scope is None:
        return _scope_of_deployed(aws, found[0].name)
    _guard_production(scope, args)
    return scope


def _guard_production(scope: Scope, args: argparse.Namespace) -> None:
    """Under GitHub Actions, production is removed only when named (a workflow's default
    scope is its context's); a user at a terminal who names the FDL or -a means it, as in
    SCAR."""
    from scar_ci.github.annotations import in_actions

    if scope.is_production and args.scope is None and in_actions():
        raise UsageError("rm would remove functions of the production deployment; "
                         "say so explicitly with --scope production")
