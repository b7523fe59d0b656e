"""Rules a JSON Schema cannot express: unique names, files, references between keys.

They run on the merged document after the schema check, and skip what has the wrong shape
(the schema already reported it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import KeyPath, Located, Position, lookup, quoted
from scar_ci.fdl.paths import resolve_inside

MAX_TIMEOUT = 900  # the schema's maximum: the rules below only judge values it accepted

# Keys of a `lambda` section (or of its `container`) naming a file next to the FDL.
FILE_KEYS: tuple[KeyPath, ...] = (
    ("init_script",), ("run_script",), ("extra_payload",), ("container", "image_file"),
)
OSCAR_FILE_KEYS: tuple[KeyPath, ...] = (("script",),)


def check_rules(doc: Located, fdl: Path, repository: Path, fallback: Position) -> list[Problem]:
    """Every problem of the merged FDL document beyond its shape."""
    functions = doc.data.get("functions")
    if not isinstance(functions, dict):
        return []
    items = functions.get("aws")
    aws = list(enumerate(items)) if isinstance(items, list) else []
    lambdas = [(("functions", "aws", i, "lambda"), item["lambda"]) for i, item in aws
               if isinstance(item, dict) and isinstance(item.get("lambda"), dict)]
    services = functions.get("oscar")
    oscar = [(("functions", "oscar", i, cluster), service)
             for i, item in enumerate(services if isinstance(services, list) else [])
             if isinstance(item, dict)
             for cluster, service in item.items() if isinstance(service, dict)]
    problems = [
        *_duplicate_names(doc, lambdas, fallback),
        *_storage_references(doc, [*lambdas, *oscar], fallback),
    ]
    for path, lam in lambdas:
        problems += _onedata_inputs(doc, path, lam, fallback)
        problems += _files(doc, path, lam, fdl, repository, fallback)
        problems += _time_left(doc, path, lam, fallback)
    for path, service in oscar:
        problems += _files(doc, path, service, fdl, repository, fallback, OSCAR_FILE_KEYS)
    for i, item in aws:
        batch = item.get("batch") if isinstance(item, dict) else None
        problems += _multi_node(doc, ("functions", "aws", i, "batch"), batch, fallback)
        api = item.get("api_gateway") if isinstance(item, dict) else None
        problems += _run_overrides(doc, ("functions", "aws", i, "api_gateway"), api, fallback)
    return problems


def _duplicate_names(doc: Located, lambdas: list[tuple[KeyPath, dict]],
                     fallback: Position) -> Iterator[Problem]:
    seen: dict[str, KeyPath] = {}
    for path, lam in lambdas:
        name = lam.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            first = doc.value_position((*seen[name], "name"), fallback)
            yield Problem(doc.value_position((*path, "name"), fallback), (*path, "name"),
                          f"{quoted(name)} is already the name of the function on line "
                          f"{first.line}")
        else:
            seen[name] = path


def _storage_references(doc: Located, sections: list[tuple[KeyPath, dict]],
                        fallback: Position) -> Iterator[Problem]:
    providers = doc.data.get("storage_providers")
    providers = providers if isinstance(providers, dict) else {}
    for path, section in sections:
        for direction in ("input", "output"):
            entries = section.get(direction)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                ref = lookup(entry, ("storage_provider",))
                if not isinstance(ref, str) or "." not in ref:
                    continue
                kind, _, ident = ref.partition(".")
                if not isinstance(providers.get(kind), dict) or ident not in providers[kind]:
                    where = (*path, direction, i, "storage_provider")
                    yield Problem(doc.value_position(where, fallback), where,
                                  f"{quoted(ref)} is not defined under storage_providers.{kind}")


def _onedata_inputs(doc: Located, path: KeyPath, lam: dict,
                    fallback: Position) -> Iterator[Problem]:
    """A Lambda function is started by S3 events: Onedata can take its outputs only."""
    entries = lam.get("input")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        ref = lookup(entry, ("storage_provider",))
        if isinstance(ref, str) and ref.partition(".")[0] == "onedata":
            where = (*path, "input", i, "storage_provider")
            yield Problem(doc.value_position(where, fallback), where,
                          f"{quoted(ref)} cannot be the input of a Lambda function (its events "
                          "come from S3): use s3 here; Onedata can be an output")


def _files(doc: Located, path: KeyPath, section: dict, fdl: Path, repository: Path,
           fallback: Position, file_keys: tuple[KeyPath, ...] = FILE_KEYS) -> Iterator[Problem]:
    for keys in file_keys:
        value = lookup(section, keys)
        if isinstance(value, str) and value:
            resolved = resolve_inside(value, fdl, repository)
            if isinstance(resolved, str):
                yield Problem(doc.value_position((*path, *keys), fallback), (*path, *keys),
                              resolved)


def _time_left(doc: Located, path: KeyPath, lam: dict, fallback: Position) -> Iterator[Problem]:
    timeout, threshold = lam.get("timeout"), lookup(lam, ("container", "timeout_threshold"))
    in_range = isinstance(timeout, int) and isinstance(threshold, int) and (
        1 <= timeout <= MAX_TIMEOUT and 0 <= threshold < MAX_TIMEOUT)
    if in_range and threshold >= timeout:
        where = (*path, "container", "timeout_threshold")
        yield Problem(doc.value_position(where, fallback), where,
                      f"{threshold} s leaves no time to run within the timeout of {timeout} s")


NOT_MULTI_NODE = {"FARGATE": "Fargate", "FARGATE_SPOT": "Fargate", "SPOT": "Spot Instances"}


def _multi_node(doc: Located, path: KeyPath, batch: Any, fallback: Position) -> Iterator[Problem]:
    """What AWS Batch refuses in a multi-node parallel job, found before any AWS call."""
    nodes = lookup(batch, ("multi_node_parallel", "number_nodes"))
    main = lookup(batch, ("multi_node_parallel", "main_node_index"))
    if isinstance(nodes, int) and isinstance(main, int) and main >= nodes:
        where = (*path, "multi_node_parallel", "main_node_index")
        yield Problem(doc.value_position(where, fallback), where,
                      f"{main} is not below number_nodes {nodes} (the index starts at 0)")
    if lookup(batch, ("multi_node_parallel", "enabled")) is not True:
        return
    if isinstance(nodes, int) and nodes < 2:
        where = (*path, "multi_node_parallel", "number_nodes")
        yield Problem(doc.value_position(where, fallback), where,
                      f"{nodes}: a multi-node parallel job has at least 2 nodes; use 2 or more, "
                      "or multi_node_parallel.enabled: false for a single-node job")
    kind = lookup(batch, ("compute_resources", "type"))
    if kind in NOT_MULTI_NODE:
        where = (*path, "compute_resources", "type")
        yield Problem(doc.value_position(where, fallback), where,
                      f"{kind}: AWS Batch runs no multi-node parallel job on "
                      f"{NOT_MULTI_NODE[kind]}; use type EC2, or multi_node_parallel.enabled: "
                      "false")


def capacity_notices(doc: Located, fallback: Position) -> list[Problem]:
    """What validates and deploys but cannot run: a multi-node parallel job whose nodes need
    more vCPUs than its compute environment may have (AWS Batch places every node at once,
    so the job would stay RUNNABLE). SCAR deploys it as it is; so does scar-ci, saying so."""
    items = lookup(doc.data, ("functions", "aws"))
    notices = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        batch = item.get("batch") if isinstance(item, dict) else None
        nodes = lookup(batch, ("multi_node_parallel", "number_nodes"))
        vcpus, most = lookup(batch, ("vcpus",)), lookup(batch, ("compute_resources", "max_v_cpus"))
        if lookup(batch, ("multi_node_parallel", "enabled")) is not True or not all(
                isinstance(n, int) and n > 0 for n in (nodes, vcpus, most)):
            continue
        if most < nodes * vcpus:
            where = ("functions", "aws", i, "batch", "compute_resources", "max_v_cpus")
            notices.append(Problem(
                doc.value_position(where, fallback), where,
                f"{most} vCPUs cannot hold the multi-node job's {nodes} nodes of {vcpus} "
                f"vCPU{'s' if vcpus > 1 else ''}: AWS Batch would keep it RUNNABLE; set "
                f"max_v_cpus to {nodes * vcpus} or more (or fewer nodes or vcpus)"))
    return notices


def _run_overrides(doc: Located, path: KeyPath, api: Any, fallback: Position) -> Iterator[Problem]:
    """Letting HTTP callers choose the script is remote code execution unless they are known."""
    if lookup(api, ("allow_run_overrides",)) is True and \
            lookup(api, ("method", "authorizationType")) != "AWS_IAM":
        where = (*path, "allow_run_overrides")
        yield Problem(doc.value_position(where, fallback), where,
                      "lets every caller of the API run any command in the function; set "
                      "api_gateway.method.authorizationType: AWS_IAM as well (callers then sign "
                      "their requests, as scar-ci invoke does), or remove this key")
