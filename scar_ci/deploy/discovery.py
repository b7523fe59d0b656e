"""Finding what is live: every resource of a scope, whatever the FDL says today, through one
registry of discoveries shared by teardown, the deploy's sweeper and `rm`.

A kind is found by registering its room's discovery here (`DISCOVERIES`): a function of the
session, the scope and the keys the plan reads anyway (it may skip those), giving the scope's
live resources, each with its scar-ci tags. OSCAR's services are found by the clusters the
run knows (`oscar.clusters.Oscar.discover`).

A deploy looks only in the services the FDL or the scope uses: first in those every function
has, those of the desired resources and those of the ARNs the scope's tagging pass lists;
then in those the scope's functions name in their `scar-ci:services` tag (where each one's
other resources are: a tagging API may list some services only, LocalStack's lists log groups
and parameters), or in all the others when a function has no such tag (deployed before it
existed). Teardown and `rm` look everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, cast

from scar_ci.aws.apigateway import discover_apis
from scar_ci.aws.batch import discover_batch
from scar_ci.aws.ecr import discover_repositories
from scar_ci.aws.iam import discover_roles
from scar_ci.aws.lambda_ import account_functions, discover_functions, function_answer
from scar_ci.aws.logs import discover_log_groups
from scar_ci.aws.parallel import parallel_map
from scar_ci.aws.resource import Key, Resource
from scar_ci.aws.s3 import discover_buckets
from scar_ci.aws.session import Aws
from scar_ci.aws.ssm import discover_storage_credentials
from scar_ci.aws.triggers import Trigger, discover_triggers
from scar_ci.oscar.clusters import Oscar
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_FUNCTION, TAG_LAMBDA, TAG_SERVICES

Discovery = Callable[[Aws, Scope, Collection[Key]], Iterable[Resource]]


def _apis(aws: Aws, scope: Scope, known: Collection[Key]) -> Iterator[Resource]:
    return (api for api, _ in discover_apis(aws, scope))


def _functions(aws: Aws, scope: Scope, known: Collection[Key]) -> Iterator[Resource]:
    """Each function after its triggers (found through the function's permissions, read side
    by side); of the `known` functions, which the plan reads anyway, only the triggers of
    those that exist."""
    wanted = {name for kind, name in known if kind == "function"}
    functions = [function for function, _ in discover_functions(aws, scope, skip=wanted)]
    live = {function["FunctionName"] for function in account_functions(aws)}
    names = [function.name for function in functions] + sorted(wanted & live)
    triggers = parallel_map(lambda name: list(discover_triggers(aws, name)), names)
    for position, found in enumerate(triggers):
        yield from found
        if position < len(functions):
            yield functions[position]


def _skipping(kind: str, discover_kind: Callable[..., Iterable[Resource]]) -> Discovery:
    """A discovery that leaves out the `known` resources of `kind` (the plan reads them)."""
    return lambda aws, scope, known: discover_kind(
        aws, scope, skip={name for known_kind, name in known if known_kind == kind})


def _each(discover_kind: Callable[[Aws, Scope], Iterable[Resource]]) -> Discovery:
    return lambda aws, scope, known: discover_kind(aws, scope)


# (service, discovery); the layer is not discovered: scopes share it and it is never deleted.
DISCOVERIES: list[tuple[str, Discovery]] = [
    ("apigateway", _apis),
    ("lambda", _functions),
    ("batch", _each(discover_batch)),
    ("ecr", _each(discover_repositories)),
    ("s3", _each(discover_buckets)),
    ("logs", _skipping("log group", discover_log_groups)),
    ("ssm", _each(discover_storage_credentials)),
    ("iam", _skipping("role", discover_roles)),
]


# Services every function has resources in; the others hold resources of some kinds only.
EVERY_FUNCTION = ("lambda", "iam", "logs", "s3")
SERVICE_OF_KIND = {"api": "apigateway", "secret": "ssm", "repository": "ecr",
                   "compute env": "batch", "job queue": "batch", "job definition": "batch"}
NONE = "none"  # the services tag of a function whose resources are all in EVERY_FUNCTION's


def services_tag(resources: Iterable[Resource]) -> str:
    """The `scar-ci:services` value of a function whose own resources are `resources`."""
    return " ".join(sorted({SERVICE_OF_KIND[r.kind] for r in resources
                            if r.kind in SERVICE_OF_KIND})) or NONE


def discover(aws: Aws | None, scope: Scope, known: Collection[Key] = (), *,
             oscar: Oscar | None = None, desired: Sequence[Resource] | None = None,
             listed: Mapping[str, Mapping[str, str]] | None = None) -> list[Resource]:
    """Everything live that is tagged for `scope`: on the OSCAR clusters `oscar` knows, and on
    AWS (unless `aws` is None), each service's discovery side by side; resources of `known`
    keys, which a deploy reads anyway, may be left out. A deploy gives its `desired`
    resources and `listed` (ARN -> tags, the scope's tagging pass): then only the services
    they or the scope's functions name are looked in."""
    found: list[Resource] = list(oscar.discover(scope)) if oscar else []
    if aws is None:
        return found
    if desired is None:
        return found + _found_in(aws, scope, known, DISCOVERIES)
    first = {*EVERY_FUNCTION, *(arn.split(":")[2] for arn in listed or {}),
             *(SERVICE_OF_KIND[r.kind] for r in desired if r.kind in SERVICE_OF_KIND)}
    entries = [entry for entry in DISCOVERIES if entry[0] in first]
    reads: list[Callable[[], object]] = [
        *(partial(_found_by, entry, aws, scope, known) for entry in entries),
        *(partial(function_answer, aws, r.name) for r in desired if r.kind == "function")]
    answers = parallel_map(lambda read: read(), reads)  # listings, and wanted functions
    live = [r for resources in cast(list[list[Resource]], answers[:len(entries)])
            for r in resources]
    tags = [r.tags for r in live if r.kind == "function"]
    tags += [answer.get("Tags") or {} for answer in
             cast(list[dict[str, Any] | None], answers[len(entries):]) if answer]
    named = _named(tags)
    rest = [entry for entry in DISCOVERIES
            if entry[0] not in first and (named is None or entry[0] in named)]
    return found + live + _found_in(aws, scope, known, rest)


def _named(tags: Iterable[Mapping[str, str]]) -> set[str] | None:
    """The services the functions with `tags` name; None (all) when one names none."""
    named: set[str] = set()
    for function_tags in tags:
        if TAG_SERVICES not in function_tags:
            return None
        named.update(function_tags[TAG_SERVICES].split())
    return named - {NONE}


def _found_by(entry: tuple[str, Discovery], aws: Aws, scope: Scope,
              known: Collection[Key]) -> list[Resource]:
    return list(entry[1](aws, scope, known))


def _found_in(aws: Aws, scope: Scope, known: Collection[Key],
              entries: list[tuple[str, Discovery]]) -> list[Resource]:
    lists = parallel_map(lambda entry: _found_by(entry, aws, scope, known), entries)
    return [resource for resources in lists for resource in resources]


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
