"""`scar-ci rm`: teardown for one function, the functions of an FDL, or a whole scope.

Removing functions removes what belongs to each alone (its API, triggers, log group, role,
storage credentials, an image function's ECR repository as `ecr.delete_image` says, a Batch
function's compute environment, job queue and job definition);
buckets stay, since they hold data and may serve other functions: a scope's teardown removes
them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from scar_ci.aws.session import Aws
from scar_ci.commands.output import say_to
from scar_ci.commands.target import ScopeOf, Target, targets
from scar_ci.errors import UsageError, UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import scope_label


def remove_functions(aws: Aws, scope: Scope, names: set[str],
                     say: Callable[[str], None] = print) -> int:
    """Plan and apply the removal; returns how many resources were found."""
    from scar_ci.deploy import engine

    return engine.remove(scope, aws, names, say)


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
