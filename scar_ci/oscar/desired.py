"""The OSCAR services an FDL asks for in a scope (pure: no call to any cluster).

Names: `scope.oscar_service(name)` (`anon--pr-7` in a preview). Buckets: a path on the
cluster's own MinIO (`minio`, i.e. `minio.default`) is renamed for the scope as S3 buckets
are, and so is a path on any S3 provider whose bucket the FDL's Lambda functions use through
the default `s3` provider: an OSCAR -> S3 -> Lambda chain stays one chain in every scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scar_ci.fdl import Fdl
from scar_ci.fdl import OscarService as FdlService
from scar_ci.fdl.model import thaw
from scar_ci.oscar.client import OscarCluster
from scar_ci.oscar.service import OscarService
from scar_ci.scopes.scope import Scope

# SCAR's defaults (its configuration file's `oscar` section), under the FDL's values.
BUILTIN = {"memory": "256Mi", "cpu": "0.2", "log_level": "INFO"}
OWN_MINIO = ("minio", "minio.default")


def managed_buckets(fdl: Fdl) -> set[str]:
    """Buckets the deployment manages: those of the Lambda functions' default S3 provider."""
    return {ref.path.strip("/").partition("/")[0] for function in fdl.functions
            for ref in (*function.input, *function.output) if ref.storage_provider == "s3"}


def scoped_storage_path(scope: Scope, provider: str, path: str, managed: set[str]) -> str:
    """`path` (`bucket/folder`) with the bucket renamed for the scope when scar-ci's."""
    bucket, sep, folder = path.strip(" /").partition("/")
    if provider in OWN_MINIO or (provider.partition(".")[0] == "s3" and bucket in managed):
        bucket = scope.bucket(bucket)
    return f"{bucket}{sep}{folder}"


def definition(fdl: Fdl, service: FdlService, scope: Scope,
               defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON OSCAR's API takes for `service` in `scope` (labels and annotations apart)."""
    raw = service.raw
    settings = {**BUILTIN, **{k: v for k, v in (defaults or {}).items() if k in BUILTIN},
                **{k: raw[k] for k in BUILTIN if k in raw}}
    managed = managed_buckets(fdl)
    name = scope.oscar_service(service.name)

    def paths(key: str) -> list[dict[str, Any]]:
        return [{**thaw(ref), "path": scoped_storage_path(scope, ref["storage_provider"],
                                                             ref["path"], managed)}
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
    managed = {scope.bucket(b) for b in managed_buckets(fdl)}
    written = {ref["path"] for ref in body["output"]
               if ref["storage_provider"].partition(".")[0] == "s3"
               and ref["path"].partition("/")[0] in managed}
    keys = [("bucket", path.partition("/")[0]) for path in sorted(written)]
    for function in fdl.functions:
        for ref in function.input:
            path = scoped_storage_path(scope, ref.storage_provider, ref.path, managed_buckets(fdl))
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
