"""Finding what is live: every resource of a scope, whatever the FDL says today, through one
registry of discoveries shared by teardown, the deploy's sweeper and `rm`.

A kind is found by registering its room's discovery here (`DISCOVERIES`): a function of the
session, the scope and the keys the plan reads anyway (it may skip those), giving the scope's
live resources, each with its scar-ci tags. OSCAR's services are found by the clusters the
run knows (`oscar.clusters.Oscar.discover`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator

from scar_ci.aws.apigateway import discover_apis
from scar_ci.aws.batch import discover_batch
from scar_ci.aws.ecr import discover_repositories
from scar_ci.aws.iam import discover_roles
from scar_ci.aws.lambda_ import discover_functions
from scar_ci.aws.logs import discover_log_groups
from scar_ci.aws.resource import Key, Resource
from scar_ci.aws.s3 import discover_buckets
from scar_ci.aws.session import Aws
from scar_ci.aws.ssm import discover_storage_credentials
from scar_ci.aws.triggers import Trigger, discover_triggers
from scar_ci.deploy.parallel import parallel_map
from scar_ci.oscar.clusters import Oscar
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_FUNCTION, TAG_LAMBDA

Discovery = Callable[[Aws, Scope, Collection[Key]], Iterable[Resource]]


def _apis(aws: Aws, scope: Scope, known: Collection[Key]) -> Iterator[Resource]:
    return (api for api, _ in discover_apis(aws, scope))


def _functions(aws: Aws, scope: Scope, known: Collection[Key]) -> Iterator[Resource]:
    """Each function after its triggers (found through the function's permissions, read side
    by side); of the `known` functions, which the plan reads anyway, only the triggers."""
    wanted = {name for kind, name in known if kind == "function"}
    functions = [function for function, _ in discover_functions(aws, scope, skip=wanted)]
    names = [function.name for function in functions] + sorted(wanted)
    triggers = parallel_map(lambda name: list(discover_triggers(aws, name)), names)
    for position, found in enumerate(triggers):
        yield from found
        if position < len(functions):
            yield functions[position]


def _roles(aws: Aws, scope: Scope, known: Collection[Key]) -> Iterator[Resource]:
    return discover_roles(aws, scope, skip={name for kind, name in known if kind == "role"})


def _each(discover_kind: Callable[[Aws, Scope], Iterable[Resource]]) -> Discovery:
    return lambda aws, scope, known: discover_kind(aws, scope)


# (service, discovery); the layer is not discovered: scopes share it and it is never deleted.
DISCOVERIES: list[tuple[str, Discovery]] = [
    ("apigateway", _apis),
    ("lambda", _functions),
    ("batch", _each(discover_batch)),
    ("ecr", _each(discover_repositories)),
    ("s3", _each(discover_buckets)),
    ("logs", _each(discover_log_groups)),
    ("ssm", _each(discover_storage_credentials)),
    ("iam", _roles),
]


def discover(aws: Aws | None, scope: Scope, known: Collection[Key] = (), *,
             oscar: Oscar | None = None) -> list[Resource]:
    """Everything live that is tagged for `scope`: on the OSCAR clusters `oscar` knows, and on
    AWS (unless `aws` is None), each service's discovery side by side; resources of `known`
    keys, which a deploy reads anyway, may be left out."""
    found: list[Resource] = list(oscar.discover(scope)) if oscar else []
    if aws is not None:
        lists = parallel_map(lambda entry: list(entry[1](aws, scope, known)), DISCOVERIES)
        found.extend(resource for resources in lists for resource in resources)
    return found


def of_functions(found: Iterable[Resource], names: Collection[str]) -> list[Resource]:
    """What of `found` belongs to the deployed functions `names` alone: each function and
    whatever is tagged with it or its FDL function (API, triggers, log group, role,
    credentials, image repository, Batch's resources); buckets serve others too and stay."""
    found = list(found)
    bases = {r.tags.get(TAG_FUNCTION) for r in found if r.kind == "function" and r.name in names}
    return [r for r in found if r.kind != "bucket" and (
        (r.kind == "function" and r.name in names)
        or (isinstance(r, Trigger) and r.function in names)
        or r.tags.get(TAG_LAMBDA) in names
        or (r.kind != "function" and r.tags.get(TAG_FUNCTION) in bases - {None}))]
