"""run, invoke, logs, put, get and rm on OSCAR services.

A service is designated as a function is: `-f FDL -n NAME` (its FDL name, in the scope), or
`-n CLUSTER/SERVICE`, the deployed name `scar-ci ls` shows (the FDL name with `--scope`).
`run` and `invoke` POST to OSCAR's synchronous `/run/<service>` (asynchronous `/job/<service>`
with `-a`), `logs` reads the service's jobs, `put` / `get` go through the service's storage
(its first input / output path unless `-b`), `rm` deletes the service.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scar_ci.commands.output import say_to, write_output, write_stdout
from scar_ci.errors import UsageError, UserError

# `cluster/service` as `ls` shows it: a cluster id as the FDL's, an OSCAR service name.
_DEPLOYED = re.compile(r"([A-Za-z0-9_-]+)/([a-z0-9](?:[-a-z0-9]{0,37}[a-z0-9])?)")

if TYPE_CHECKING:
    from scar_ci.commands.target import ScopeOf
    from scar_ci.fdl import Fdl
    from scar_ci.oscar.client import OscarCluster
    from scar_ci.oscar.clusters import Oscar
    from scar_ci.scopes.scope import Scope


def known_clusters(fdl: Fdl | None, args: argparse.Namespace) -> Oscar:
    """The OSCAR clusters of the FDL, or of the configuration file (`-c`, else SCAR's)."""
    from scar_ci.fdl.config import scar_config
    from scar_ci.fdl.errors import FDLError
    from scar_ci.oscar.clusters import Oscar

    if fdl is not None:
        return Oscar.of(fdl)
    config = scar_config(getattr(args, "config", None))
    if config is not None and config.problems:
        raise FDLError(config.name, config.problems)
    return Oscar.of(None, dict(config.oscar_clusters) if config else {})


@dataclass(frozen=True)
class ServiceTarget:
    """One deployed service on one cluster."""

    cluster: OscarCluster
    name: str
    scope: Scope | None = None  # the scope the FDL name was resolved in

    @property
    def shown(self) -> str:
        return f"{self.cluster.cluster_id}/{self.name}"

    def live(self) -> dict[str, Any]:
        found = self.cluster.get_service(self.name)
        if found is None:
            raise UserError(f"no service {self.shown} on its cluster ('scar-ci ls' lists the "
                            "deployed services)")
        return found

    def storage(self, which: str, bucket: str | None) -> tuple[str, str]:
        """(provider, `bucket/path`) of `-b`, else of the service's first `which` path."""
        paths = self.live().get(which) or []
        if bucket:
            return (paths[0]["storage_provider"] if paths else "minio"), bucket.strip("/")
        if not paths:
            raise UsageError(f"service {self.shown} has no {which} path; give -b BUCKET/PATH")
        return paths[0]["storage_provider"], paths[0]["path"]


def service_target(args: argparse.Namespace, scope_of: ScopeOf) -> ServiceTarget | None:
    """The service the arguments designate, or None when they designate a Lambda function."""
    if args.fdl:
        from scar_ci.fdl import load_fdl

        fdl = load_fdl(args.fdl, config_path=args.config)
        services = [s for s in fdl.oscar if args.name in (None, s.name)]
        functions = [f for f in fdl.functions if args.name in (None, f.name)]
        if not services or (functions and args.name is None):
            return None
        if functions:
            raise UsageError(f"{args.fdl}: {args.name!r} names both a function and an OSCAR "
                             "service; rename one of them")
        if len(services) > 1:
            names = ", ".join(f"{s.cluster_id}/{s.name}" for s in services)
            raise UsageError(f"{args.fdl} defines several OSCAR services ({names}); choose one "
                             "with -n NAME")
        (service,) = services
        cluster, scope = known_clusters(fdl, args).clusters[service.cluster_id], scope_of(args)
        return ServiceTarget(cluster, scope.oscar_service(service.name), scope)
    deployed = _DEPLOYED.fullmatch(args.name or "")
    if not deployed:
        return None  # not CLUSTER/SERVICE: a function's name, judged as such
    cluster_id, name = deployed.groups()
    oscar = known_clusters(None, args)
    if cluster_id not in oscar.clusters:
        from scar_ci.oscar.access import env_name

        raise UsageError(f"-n {args.name}: no OSCAR cluster {cluster_id!r} is configured (the "
                         f"configuration file's oscar.{cluster_id}, or "
                         f"{env_name(cluster_id, 'endpoint')} and its credentials)")
    scope = scope_of(args) if args.scope else None
    return ServiceTarget(oscar.clusters[cluster_id], scope.oscar_service(name) if scope
                         else name, scope)


def _decoded(body: bytes) -> bytes:
    """OSCAR answers a synchronous run with the output base64-encoded (or as plain text)."""
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return body


def _send(target: ServiceTarget, payload: bytes, args: argparse.Namespace) -> int:
    result = target.cluster.run(target.name, payload, asynchronous=args.asynchronous)
    if args.asynchronous:
        print(f"Service '{target.shown}' launched a job (its log: scar-ci logs -n "
              f"{target.shown})")
        return 0
    output = _decoded(result.body)
    write_output(output, args.output)
    return 0


def run_service(args: argparse.Namespace, target: ServiceTarget) -> int:
    """`run`: the service's own script, synchronously (or as a job with -a), no input."""
    cmd_args = args.cmd_args[1:] if args.cmd_args[:1] == ["--"] else args.cmd_args
    if args.script or args.env or cmd_args or args.json or args.verbose:
        raise UsageError("an OSCAR service runs its own script: -s, -e, -j, -v and a command "
                         "are for Lambda functions; send an input with "
                         f"'scar-ci invoke -n {target.shown} -db FILE'")
    if args.dry_run:
        print(f"would run {target.shown} {'as a job' if args.asynchronous else 'synchronously'}")
        return 0
    return _send(target, b"", args)


def invoke_service(args: argparse.Namespace, target: ServiceTarget) -> int:
    """`invoke`: POST a file (-db) or JSON (-jd) to the service."""
    if args.parameters:
        raise UsageError("OSCAR services take a body, not query parameters: use -db FILE or "
                         "-jd JSON")
    if args.data_binary:
        payload = Path(args.data_binary).read_bytes()
    else:
        payload = (args.json_data or "").encode()
    return _send(target, payload, args)


def logs_service(args: argparse.Namespace, target: ServiceTarget) -> int:
    """`logs`: every job's status and log (oldest first), or one job's (--request-id)."""
    if args.stream or args.since or args.follow:
        raise UsageError("for an OSCAR service, logs shows its jobs: --stream, --since and "
                         "--follow are for Lambda functions; --request-id JOB picks one job")
    jobs = target.cluster.jobs(target.name)
    chosen = sorted(jobs.items(), key=lambda item: item[1].get("creation_time") or "")
    if args.request_id:
        if args.request_id not in jobs:
            raise UserError(f"service {target.shown} has no job {args.request_id!r} (its jobs: "
                            f"{', '.join(jobs) or 'none'})")
        chosen = [(args.request_id, jobs[args.request_id])]
    if not chosen:
        print(f"service {target.shown} has no jobs yet")
    for job, info in chosen:
        print(f"== job {job}: {info.get('status', '?')}, created {info.get('creation_time')}, "
              f"finished {info.get('finish_time') or '-'}")
        write_stdout(target.cluster.job_logs(target.name, job).encode())
    return 0


def put_service(args: argparse.Namespace, target: ServiceTarget) -> int:
    """`put`: a file, or a folder's files keeping their layout, into the input path."""
    provider, folder = target.storage("input", args.bucket)
    local = Path(args.path)
    if not local.exists():
        raise UsageError(f"-p {args.path}: no such file or folder")
    files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
    say = say_to()
    for path in files:
        relative = path.parent.relative_to(local).as_posix() if local.is_dir() else "."
        into = folder if relative == "." else f"{folder}/{relative}"
        target.cluster.upload(target.name, provider, path, into)
        say(f"  {path} -> {provider} {into}/{path.name}")
    print(f"put: {len(files)} file(s) uploaded to {provider} {folder}")
    return 0


def get_service(args: argparse.Namespace, target: ServiceTarget) -> int:
    """`get`: every file under the output path (or -b), keeping the layout below it."""
    provider, path = target.storage("output", args.bucket)
    keys = [k for k in target.cluster.list_files(target.name, provider, path)
            if not k.endswith("/") and (k == path or k.startswith(f"{path.rstrip('/')}/"))]
    into = Path(args.path)
    base = path.rstrip("/")
    for key in keys:
        below = Path(key[len(base):].strip("/")).parent if key != base else Path()
        if ".." in below.parts or below.is_absolute():
            raise UserError(f"{key}: a key that leaves the download folder; not written")
        folder = into / below
        folder.mkdir(parents=True, exist_ok=True)
        target.cluster.download(target.name, provider, key, folder)
    print(f"get: {len(keys)} file(s) downloaded from {provider} {path}")
    return 0


def fdl_services(args: argparse.Namespace, scope_of: ScopeOf
                 ) -> tuple[list[ServiceTarget], bool]:
    """The services `rm` removes: the one -n names, or every service of -f FDL; and whether
    that is all there is to remove (no Lambda function is designated too)."""
    if args.fdl and not args.name:
        from scar_ci.fdl import load_fdl

        fdl = load_fdl(args.fdl, config_path=args.config)
        oscar, scope = known_clusters(fdl, args), scope_of(args)
        found = [ServiceTarget(oscar.clusters[s.cluster_id], scope.oscar_service(s.name), scope)
                 for s in fdl.oscar]
        return found, not fdl.functions
    service = service_target(args, scope_of)
    return ([service], True) if service else ([], False)


def rm_services(args: argparse.Namespace, targets: list[ServiceTarget], *,
                required: bool = True) -> None:
    """Delete the services, through one plan as teardown does; none of them deployed is an
    error when they are all there is to remove (`required`)."""
    from scar_ci.deploy.engine import apply_said
    from scar_ci.deploy.plan import make_plan
    from scar_ci.oscar.service import OscarService

    if any(t.scope and t.scope.is_production for t in targets) and args.scope is None:
        raise UsageError("rm would remove services of the production deployment; say so "
                         "explicitly with --scope production")
    live = [t for t in targets if t.cluster.get_service(t.name) is not None]
    if not live and not required:
        return
    if not live:
        raise UserError(f"nothing of {', '.join(t.shown for t in targets)} found ('scar-ci "
                        "ls' lists the deployed services)")
    started = time.monotonic()
    plan = make_plan("OSCAR services", [], [OscarService(t.cluster, {"name": t.name})
                                            for t in live], None, reason="scar-ci rm")
    apply_said(plan, "rm", say_to(), started)
