"""OSCAR services as resources of the plan, with the contract of the AWS resources.

A service is named `<cluster>/<service>` in the plan. scar-ci marks its services with
Kubernetes-valid labels (`scar-ci/managed`, `scar-ci/scope`, `scar-ci/kind`, which OSCAR puts
on the service's pods and jobs) and annotations for the free-form values (`scar-ci/source`,
`scar-ci/ref`, `scar-ci/fdl-function`); read back, they compare as scar-ci's usual tags, so a
teardown finds a scope's services from the scope alone and never touches someone else's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scar_ci.aws.resource import Resource, Settings, ensure_ours, may_belong, owned
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_KIND, TAG_MANAGED, TAG_SCOPE, our_tags

if TYPE_CHECKING:  # the client (requests) loads when a cluster is known: scar_ci.oscar.clusters
    from scar_ci.aws.session import Aws
    from scar_ci.oscar.client import OscarCluster

KIND = "service"
TAG_SEP, LABEL_SEP = ":", "/"
LABELLED = (TAG_MANAGED, TAG_SCOPE, TAG_KIND)  # values that are valid Kubernetes labels
COMPARED = ("image", "script", "memory", "cpu", "log_level", "environment", "input", "output",
            "storage", "tags")


def to_marks(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """scar-ci's tags as OSCAR labels and annotations (`scar-ci:scope` -> `scar-ci/scope`)."""
    labels, annotations = {}, {}
    for key, value in tags.items():
        (labels if key in LABELLED else annotations)[key.replace(TAG_SEP, LABEL_SEP, 1)] = value
    return labels, annotations


def from_marks(service: Mapping[str, Any]) -> dict[str, str]:
    """The scar-ci tags of a live service, from its labels and annotations."""
    marks = {**(service.get("annotations") or {}), **(service.get("labels") or {})}
    return our_tags({k.replace(LABEL_SEP, TAG_SEP, 1): str(v) for k, v in marks.items()})


def _digest(value: Any) -> str:
    """Compares two values without showing either (scripts are long; credentials secret)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def normalized_paths(refs: Any, service: str) -> list[dict[str, Any]]:
    """Storage paths as OSCAR stores them: trimmed of ` /`, a bare folder of a MinIO or S3
    provider in a bucket named after the service; empty prefix and suffix lists dropped."""
    paths = []
    for ref in refs or ():
        path = str(ref.get("path", "")).strip(" /")
        provider = str(ref.get("storage_provider", ""))
        if provider.partition(".")[0] in ("minio", "s3") and "/" not in path:
            path = f"{service}/{path}"
        entry: dict[str, Any] = {"storage_provider": provider, "path": path}
        for key in ("prefix", "suffix"):
            if ref.get(key):
                entry[key] = list(ref[key])
        paths.append(entry)
    return paths


def settings_of(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The compared settings of a service definition (what scar-ci sends, or OSCAR returns)."""
    name = str(definition.get("name", ""))
    environment = definition.get("environment") or {}
    variables = environment.get("variables") or environment.get("Variables") or {}
    return {
        "image": definition.get("image", ""),
        "script": _digest(definition.get("script", ""))[:23],
        "memory": str(definition.get("memory", "")),
        "cpu": str(definition.get("cpu", "")),
        "log_level": definition.get("log_level", ""),
        "environment": {k: str(v) for k, v in sorted(variables.items())},
        "input": normalized_paths(definition.get("input"), name),
        "output": normalized_paths(definition.get("output"), name),
        "storage": _digest(definition.get("storage_providers") or {}),
        "tags": from_marks(definition),
    }


@dataclass
class OscarService(Resource):
    """One service on one cluster; `definition` is the JSON OSCAR's API takes."""

    kind = KIND
    cluster: OscarCluster
    definition: Mapping[str, Any] = field(repr=False)
    tags: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[tuple[str, str], ...] = ()  # the buckets and triggers its outputs feed
    name: str = ""

    def __post_init__(self) -> None:
        self.name = f"{self.cluster.cluster_id}/{self.definition['name']}"

    @property
    def service_name(self) -> str:
        return str(self.definition["name"])

    def body(self) -> dict[str, Any]:
        """The definition with scar-ci's labels and annotations."""
        labels, annotations = to_marks(self.tags)
        return {**self.definition, "labels": labels, "annotations": annotations}

    def wanted(self) -> Settings:
        return settings_of(self.body())

    def depends_on(self) -> tuple[tuple[str, str], ...]:
        """A chain's sink first: the buckets its outputs write to and their triggers."""
        return self.needs

    def describe(self) -> str:
        d = self.definition
        return f"{d.get('image')}, {d.get('memory')}, {d.get('cpu')} CPU"

    def read(self, aws: Aws | None = None) -> Settings | None:
        live = self.cluster.get_service(self.service_name)
        if live is None:
            return None
        ensure_ours(self, from_marks(live), self.tags)
        return settings_of(live)

    def create(self, aws: Aws | None = None) -> None:
        self.cluster.create_service(self.body())

    def update(self, aws: Aws | None, live: Settings) -> None:
        self.cluster.update_service(self.body())

    def delete(self, aws: Aws | None = None) -> None:
        self.cluster.remove_service(self.service_name)

    def url(self) -> str:
        """Where the service runs synchronously."""
        return f"{self.cluster.endpoint}/run/{self.service_name}"


@dataclass(frozen=True)
class LiveService:
    """A service scar-ci deployed, as `ls` and the sweeper find it."""

    cluster: OscarCluster
    definition: Mapping[str, Any] = field(repr=False)

    @property
    def tags(self) -> dict[str, str]:
        return from_marks(self.definition)

    def resource(self) -> OscarService:
        """The resource the sweeper deletes (its definition is only the name)."""
        return OscarService(self.cluster, {"name": self.definition["name"]})


def live_services(cluster: OscarCluster, scope: Scope | None = None) -> Iterator[LiveService]:
    """The cluster's services scar-ci deployed (for `scope`, or for any scope)."""
    for definition in cluster.list_services():
        name = str(definition.get("name", ""))
        tags = from_marks(definition)
        if scope is None:
            if tags.get(TAG_MANAGED) == "true":
                yield LiveService(cluster, definition)
        elif may_belong(scope, name) and owned(scope, tags):
            yield LiveService(cluster, definition)


def discover_services(clusters: Mapping[str, OscarCluster], scope: Scope) -> list[OscarService]:
    """Every service of `scope` on every known cluster, whatever the FDL says today."""
    return [live.resource() for cluster in clusters.values()
            for live in live_services(cluster, scope)]
