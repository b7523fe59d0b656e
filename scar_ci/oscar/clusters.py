"""The OSCAR side of one run: a client per known cluster, what the FDL wants there, what a
scope has there, what `ls` shows. The deploy engine asks this object and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scar_ci.aws.inventory import DeployedScope, add_found
from scar_ci.fdl import Fdl
from scar_ci.oscar.access import clusters
from scar_ci.oscar.desired import desired_services
from scar_ci.oscar.service import OscarService, discover_services, live_services
from scar_ci.scopes.scope import Scope, created_now, scope_from_tags
from scar_ci.scopes.tags import TAG_CREATED, TAG_FUNCTION, scope_label

if TYPE_CHECKING:
    from scar_ci.oscar.client import OscarCluster


@dataclass(frozen=True)
class DeployedService:
    """One deployed service as `ls` shows it."""

    scope: str
    cluster: str
    service: str
    fdl_service: str
    image: str
    memory: str
    cpu: str
    url: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Oscar:
    """The clusters a run knows: those the FDL's services name and the configuration lists."""

    clusters: dict[str, OscarCluster] = field(default_factory=dict)
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, fdl: Fdl | None, config: Mapping[str, Mapping[str, Any]] | None = None,
           environ: Mapping[str, str] | None = None) -> Oscar:
        """Clients for every known cluster (no call is made yet); `config` defaults to the
        FDL's configuration file's `oscar` section."""
        config = dict(fdl.oscar_config if fdl and config is None else config or {})
        known = clusters(fdl, config, environ)
        if not known:  # the client, and requests with it, only for a run that has clusters
            return cls({}, config)
        from scar_ci.oscar.client import OscarCluster

        return cls({cluster_id: OscarCluster(access) for cluster_id, access in known.items()},
                   config)

    def desired(self, fdl: Fdl, scope: Scope) -> list[OscarService]:
        return desired_services(fdl, scope, self.clusters, self.config)

    def discover(self, scope: Scope) -> list[OscarService]:
        return discover_services(self.clusters, scope)

    def created(self, scope: Scope) -> str | None:
        """When `scope` was first deployed, as its live services' `scar-ci/created`
        annotations say (written when the scope is first deployed, kept by every update): now
        for a new scope, None for one deployed without creation times (as AWS's inventory)."""
        live = [s.tags for cluster in self.clusters.values()
                for s in live_services(cluster, scope)]
        if not live:
            return created_now()
        return min((tags[TAG_CREATED] for tags in live if TAG_CREATED in tags), default=None)

    def scopes(self) -> list[DeployedScope]:
        """Every scope with services on the known clusters, rebuilt from their marks, with
        its creation time (for `prune` and `ls --all-scopes`)."""
        found: dict[tuple[str, str | None], DeployedScope] = {}
        for cluster in self.clusters.values():
            for live in live_services(cluster):
                scope = scope_from_tags(live.tags)
                if scope is not None:
                    add_found(found, scope).services.add(
                        f"{cluster.cluster_id}/{live.definition.get('name', '')}")
        return list(found.values())

    def deployed(self, scope: Scope | None = None) -> list[DeployedService]:
        """The services scar-ci deployed on every known cluster (in `scope`, or in all)."""
        rows = []
        for cluster in self.clusters.values():
            for live in live_services(cluster, scope):
                d, tags = live.definition, live.tags
                rows.append(DeployedService(
                    scope_label(tags) or "", cluster.cluster_id, str(d.get("name", "")),
                    tags.get(TAG_FUNCTION, ""), str(d.get("image", "")),
                    str(d.get("memory", "")), str(d.get("cpu", "")),
                    f"{cluster.endpoint}/run/{d.get('name', '')}"))
        return sorted(rows, key=lambda r: (r.scope, r.cluster, r.service))


def render_services(rows: list[DeployedService]) -> str:
    """`ls`'s OSCAR table: one block per scope."""
    if not rows:
        return ""
    width = max(len(f"{r.cluster}/{r.service}") for r in rows)
    lines, scope = [], None
    for r in rows:
        if r.scope != scope:
            scope = r.scope
            lines.append(f"scope {scope} (OSCAR services)")
        lines.append(f"  {r.cluster + '/' + r.service:<{width}}  {r.memory:>6}  "
                     f"{r.cpu:>4} CPU  {r.image or '-'}  {r.url}")
    return "\n".join(lines)
