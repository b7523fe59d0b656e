"""Finding what is live: every resource of a scope, whatever the FDL says today, through one
registry of discoveries shared by teardown, the deploy's sweeper and `rm`.

A kind is found by registering its room's discovery here (`DISCOVERIES`): a function of the
session and the scope giving the scope's live resources, each with its scar-ci tags. OSCAR's
services are found by the clusters the run knows (`oscar.clusters.Oscar.discover`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator

from scar_ci.aws.apigateway import discover_apis
from scar_ci.aws.batch import discover_batch
from scar_ci.aws.ecr import discover_repositories
from scar_ci.aws.iam import discover_roles
from scar_ci.aws.lambda_ import discover_functions
from scar_ci.aws.logs import discover_log_groups
from scar_ci.aws.resource import Resource
from scar_ci.aws.s3 import discover_buckets
from scar_ci.aws.session import Aws
from scar_ci.aws.ssm import discover_storage_credentials
from scar_ci.aws.triggers import Trigger, discover_triggers
from scar_ci.oscar.clusters import Oscar
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_FUNCTION, TAG_LAMBDA

Discovery = Callable[[Aws, Scope], Iterable[Resource]]


def _apis(aws: Aws, scope: Scope) -> Iterator[Resource]:
    return (api for api, _ in discover_apis(aws, scope))


def _functions(aws: Aws, scope: Scope) -> Iterator[Resource]:
    """Each function, after its triggers (found through the function's permissions)."""
    for function, _ in discover_functions(aws, scope):
        yield from discover_triggers(aws, function.name)
        yield function


# (service, discovery); the layer is not discovered: scopes share it and it is never deleted.
DISCOVERIES: list[tuple[str, Discovery]] = [
    ("apigateway", _apis),
    ("lambda", _functions),
    ("batch", discover_batch),
    ("ecr", discover_repositories),
    ("s3", discover_buckets),
    ("logs", discover_log_groups),
    ("ssm", discover_storage_credentials),
    ("iam", discover_roles),
]


def discover(aws: Aws | None, scope: Scope, *, oscar: Oscar | None = None) -> list[Resource]:
    """Everything live that is tagged for `scope`: on the OSCAR clusters `oscar` knows, and
    on AWS (unless `aws` is None)."""
    found: list[Resource] = list(oscar.discover(scope)) if oscar else []
    if aws is not None:
        found.extend(r for _, discovery in DISCOVERIES for r in discovery(aws, scope))
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
