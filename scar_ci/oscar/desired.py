"""The OSCAR services an FDL asks for in a scope (pure: no call to any cluster).

Names: `scope.oscar_service(name)` (`anon--pr-7` in a preview). Buckets: as
`scopes.storage.ChainedBuckets` renames them, the same rule as the Lambda functions' paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scar_ci.aws.lambda_ import Function
from scar_ci.aws.resource import Resource
from scar_ci.fdl import Fdl
from scar_ci.fdl import OscarService as FdlService
from scar_ci.fdl.model import thaw
from scar_ci.oscar.service import OscarService
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.storage import OWN_MINIO, ChainedBuckets, bucket_of

if TYPE_CHECKING:
    from scar_ci.oscar.client import OscarCluster

# SCAR's defaults (its configuration file's `oscar` section), under the FDL's values.
BUILTIN = {"memory": "256Mi", "cpu": "0.2", "log_level": "INFO"}


def definition(fdl: Fdl, service: FdlService, scope: Scope,
               defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON OSCAR's API takes for `service` in `scope` (labels and annotations apart)."""
    raw = service.raw
    settings = {**BUILTIN, **{k: v for k, v in (defaults or {}).items() if k in BUILTIN},
                **{k: raw[k] for k in BUILTIN if k in raw}}
    chained = ChainedBuckets.of(fdl)
    name = scope.oscar_service(service.name)

    def paths(key: str) -> list[dict[str, Any]]:
        return [{**thaw(ref), "path": chained.path(scope, ref["storage_provider"], ref["path"])}
                for ref in raw.get(key, ())]

    body: dict[str, Any] = {
        "name": name,
        "cluster_id": service.cluster_id,
        "image": raw.get("image", ""),
        "script": _script(fdl, service),
        "memory": str(settings["memory"]),
        "cpu": str(settings["cpu"]),
        "log_level": settings["log_level"],
        "environment": {"variables": {k: _text(v) for k, v in
                                      ((raw.get("environment") or {}).get("Variables")
                                       or {}).items()}},
        "input": paths("input"),
        "output": paths("output"),
    }
    providers = _storage_providers(fdl, (*body["input"], *body["output"]))
    if providers:
        body["storage_providers"] = providers
    return body


def desired_services(fdl: Fdl, scope: Scope, clusters: Mapping[str, OscarCluster],
                     config: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> list[OscarService]:
    """The FDL's services in `scope`, each on its cluster, tagged for the scope, after the
    buckets and triggers their outputs feed."""
    services = []
    for s in fdl.oscar:
        body = definition(fdl, s, scope, (config or {}).get(s.cluster_id))
        services.append(OscarService(clusters[s.cluster_id], body,
                                     scope.tags(fdl_function=s.name), _feeds(fdl, scope, body)))
    return services


def _feeds(fdl: Fdl, scope: Scope, body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The plan keys of the deployment's buckets the service writes to, and of the Lambda
    triggers on those folders."""
    chained = ChainedBuckets.of(fdl)
    managed = {scope.bucket(b) for b in chained.s3}
    written = {ref["path"] for ref in body["output"]
               if ref["storage_provider"].partition(".")[0] == "s3"
               and bucket_of(ref["path"]) in managed}
    keys = [("bucket", bucket_of(path)) for path in sorted(written)]
    for function in fdl.functions:
        for ref in function.input:
            path = chained.path(scope, ref.storage_provider, ref.path)
            if ref.storage_provider == "s3" and path in written:
                keys.append(("trigger", f"{path} -> {scope.function_name(function.name)}"))
    return tuple(dict.fromkeys(keys))


def _script(fdl: Fdl, service: FdlService) -> str:
    """The script's text (`script` is a path relative to the FDL file, read at validation)."""
    script = service.raw.get("script")
    return (fdl.path.parent / script).read_text() if script else ""


def _storage_providers(fdl: Fdl, refs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The FDL's providers the paths name, in OSCAR's `storage_providers` shape."""
    used = {ref["storage_provider"] for ref in refs}
    found: dict[str, dict[str, Any]] = {}
    for provider in fdl.storage_providers:
        if f"{provider.type}.{provider.id}" in used:
            found.setdefault(provider.type, {})[provider.id] = thaw(provider.settings)
    return found


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def after_services(resources: list[Resource], fdl: Fdl, scope: Scope) -> None:
    """Make each Lambda function whose `minio.<id>` outputs write into buckets an OSCAR
    service creates on its cluster's MinIO wait for that service (OSCAR creates a service's
    buckets and their webhooks with it): the chain's sink first, as for OSCAR -> S3 -> Lambda.
    A service that itself feeds the function's trigger (a loop) is left unordered."""
    services = [r for r in resources if isinstance(r, OscarService)]
    created = {s.key: {bucket_of(ref["path"]) for key in ("input", "output")
                       for ref in s.definition.get(key, ())
                       if ref["storage_provider"] in OWN_MINIO} for s in services}
    chained = ChainedBuckets.of(fdl)
    written: dict[str, set[str]] = {}
    for function in fdl.functions:
        written[scope.function_name(function.name)] = {
            bucket_of(chained.path(scope, ref.storage_provider, ref.path))
            for ref in function.output if ref.storage_provider.partition(".")[0] == "minio"}
    for resource in resources:
        if not isinstance(resource, Function) or not written.get(resource.name):
            continue
        feeds_it = f" -> {resource.name}"
        resource.needs = (*resource.needs, *(
            s.key for s in services if created[s.key] & written[resource.name]
            and not any(kind == "trigger" and what.endswith(feeds_it) for kind, what in s.needs)))
