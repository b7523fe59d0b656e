"""AWS Batch: a function's compute environment, job queue and job definition, and its job image.

All three Batch resources carry the function's scoped name (they live in separate name
spaces). Job definitions are versioned by AWS: a change registers a new revision and
deregisters the older ones, so one revision is ACTIVE; teardown deregisters it. A compute
environment can be deleted only once DISABLED and no queue uses it: the queue is deleted first
(deletes run in reverse kind order), each after a bounded describe poll with progress lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from scar_ci.aws.ecr import FunctionImage, RegistryImage
from scar_ci.aws.resource import (
    Key,
    Resource,
    Settings,
    ensure_ours,
    may_belong,
    owned,
    paginate,
    unavailable,
)
from scar_ci.aws.session import Aws
from scar_ci.errors import UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import our_tags

if TYPE_CHECKING:  # the image code loads when a Batch function has an image to push
    from scar_ci.package.image.spec import BuiltImage

POLL_INTERVAL_S = 2.0
POLL_LIMIT_S = 600.0  # Batch takes minutes at worst to settle an environment or a queue
UPDATABLE_RESOURCES = ("minvCpus", "maxvCpus", "subnets", "securityGroupIds", "instanceTypes",
                       "instanceRole")
Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def poll(what: str, describe: Callable[[], dict[str, Any] | None],
         settled: Callable[[dict[str, Any] | None], bool], say: Say = _stderr) -> None:
    """Describe until `settled` (bounded, with a progress line per state seen)."""
    deadline = time.monotonic() + POLL_LIMIT_S
    last = ""
    while True:
        live = describe()
        if settled(live):
            return
        state = f"{(live or {}).get('status', 'gone')}"
        if state != last:
            say(f"  waiting for {what}: {state}")
            last = state
        if time.monotonic() > deadline:
            raise UserError(f"{what} did not settle within {POLL_LIMIT_S:.0f} s (still "
                            f"{state}); run the same command again")
        time.sleep(POLL_INTERVAL_S)


def _settled(live: dict[str, Any] | None) -> bool:
    return live is None or live.get("status") not in ("CREATING", "UPDATING", "DELETING")


def _name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].split(":", 1)[0]


@dataclass
class JobImage(RegistryImage):
    """The job variant of the function image (same layers, the batch job entry)."""

    kind = "job image"
    name: str  # the repository
    source: FunctionImage = field(repr=False, default_factory=lambda: FunctionImage(""))
    built: BuiltImage | None = None

    @property
    def ref(self) -> str:
        from scar_ci.package.image.job import job_reference

        return str(job_reference(self.source.ref))

    def describe(self) -> str:
        return f"push {self.ref} (the function image's layers, the batch job entry)"

    def depends_on(self) -> tuple[Key, ...]:
        return ((self.source.kind, self.source.name),)

    def read(self, aws: Aws) -> Settings | None:
        from scar_ci.package.image.job import find_job_image

        built = find_job_image(self.source.ref, self.source.spec.target_credentials)
        return {**self.wanted(), "built": built} if built else None

    def create(self, aws: Aws) -> None:
        from scar_ci.package.image.job import push_job_image

        self.built = push_job_image(self.source.ref, self.source.spec.target_credentials)


@dataclass
class ComputeEnvironment(Resource):
    """A MANAGED compute environment; `resources` is Batch's computeResources (its
    desiredvCpus is only set at creation: Batch itself moves it; its type cannot change)."""

    kind = "compute env"
    name: str
    resources: Mapping[str, Any] = field(default_factory=dict)
    service_role: str = ""
    state: str = "ENABLED"
    tags: Mapping[str, str] = field(default_factory=dict)

    def wanted(self) -> Settings:
        compared = {k: v for k, v in self.resources.items() if k != "desiredvCpus"}
        return {"state": self.state, "serviceRole": self.service_role, **compared,
                "tags": dict(self.tags)}

    def describe(self) -> str:
        r = self.resources
        return f"{r['type']}, {r.get('minvCpus', 0)}-{r['maxvCpus']} vCPUs"

    def _live(self, aws: Aws) -> dict[str, Any] | None:
        answer = aws.client("batch").describe_compute_environments(
            computeEnvironments=[self.name])
        return _not_deleted(answer.get("computeEnvironments", ()))

    def read(self, aws: Aws) -> Settings | None:
        live = self._live(aws)
        if live is None:
            return None
        ensure_ours(self, live.get("tags"), self.tags)
        resources = live.get("computeResources", {})
        if resources.get("type") != self.resources["type"]:  # refused while planning
            raise UserError(f"compute env {self.name}: Batch cannot change its type "
                            f"({resources.get('type')} -> {self.resources['type']}); run "
                            "teardown, then deploy")
        return {"state": live.get("state"), "serviceRole": live.get("serviceRole", ""),
                **{k: _comparable(resources.get(k)) for k in self.resources
                   if k != "desiredvCpus"},
                "tags": our_tags(live.get("tags"))}

    def create(self, aws: Aws) -> Callable[[], None]:
        aws.client("batch").create_compute_environment(
            computeEnvironmentName=self.name, type="MANAGED", state=self.state,
            computeResources=dict(self.resources), serviceRole=self.service_role,
            tags=dict(self.tags))
        return lambda: poll(f"compute env {self.name}", lambda: self._live(aws), _settled)

    def update(self, aws: Aws, live: Settings) -> None:
        wanted = self.wanted()
        batch = aws.client("batch")
        changed = {k: wanted[k] for k in UPDATABLE_RESOURCES
                   if k in wanted and wanted[k] != live.get(k)}
        arguments: dict[str, Any] = {"computeResources": changed} if changed else {}
        if live["state"] != self.state:
            arguments["state"] = self.state
        if live["serviceRole"] != self.service_role:
            arguments["serviceRole"] = self.service_role
        if arguments:
            batch.update_compute_environment(computeEnvironment=self.name, **arguments)
            poll(f"compute env {self.name}", lambda: self._live(aws), _settled)
        _retag(aws, self._live(aws), live["tags"], self.tags, "computeEnvironmentArn")

    def delete(self, aws: Aws) -> None:
        batch = aws.client("batch")
        _retire(f"compute env {self.name}", lambda: self._live(aws),
                lambda: batch.update_compute_environment(computeEnvironment=self.name,
                                                         state="DISABLED"),
                lambda: batch.delete_compute_environment(computeEnvironment=self.name))


def _not_deleted(found: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Batch lists a deleted resource for a while: the first one that is not."""
    return next((item for item in found if item.get("status") != "DELETED"), None)


def _retire(label: str, live: Callable[[], Settings | None], disable: Callable[[], object],
            delete: Callable[[], object]) -> None:
    """Batch deletes only what is DISABLED and settled: disable, wait, delete, wait until
    it is gone (nothing to do when it is gone already)."""
    found = live()
    if found is None:
        return
    if found.get("state") != "DISABLED":
        disable()
    poll(f"{label} to be disabled", live, _settled)
    delete()
    poll(f"{label} to be deleted", live, lambda gone: gone is None)


def _comparable(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def _retag(aws: Aws, live: dict[str, Any] | None, live_tags: Mapping[str, str],
           wanted: Mapping[str, str], arn_key: str) -> None:
    """Bring a Batch resource's scar-ci tags to `wanted` (other tags stay)."""
    if live is None or dict(live_tags) == dict(wanted):
        return
    batch = aws.client("batch")
    stale = [k for k in live_tags if k not in wanted]
    if stale:
        batch.untag_resource(resourceArn=live[arn_key], tagKeys=stale)
    batch.tag_resource(resourceArn=live[arn_key], tags=dict(wanted))


@dataclass
class JobQueue(Resource):
    """The function's job queue, on its compute environment alone."""

    kind = "job queue"
    name: str
    environment: str = ""  # the compute environment's name
    tags: Mapping[str, str] = field(default_factory=dict)
    priority: int = 1

    def depends_on(self) -> tuple[Key, ...]:
        return (("compute env", self.environment),)

    def wanted(self) -> Settings:
        return {"state": "ENABLED", "priority": self.priority,
                "environments": [self.environment], "tags": dict(self.tags)}

    def describe(self) -> str:
        return f"on {self.environment}"

    def _live(self, aws: Aws) -> dict[str, Any] | None:
        answer = aws.client("batch").describe_job_queues(jobQueues=[self.name])
        return _not_deleted(answer.get("jobQueues", ()))

    def read(self, aws: Aws) -> Settings | None:
        live = self._live(aws)
        if live is None:
            return None
        ensure_ours(self, live.get("tags"), self.tags)
        order = sorted(live.get("computeEnvironmentOrder", ()), key=lambda e: e["order"])
        return {"state": live.get("state"), "priority": live.get("priority"),
                "environments": [_name_of(e["computeEnvironment"]) for e in order],
                "tags": our_tags(live.get("tags"))}

    def _order(self) -> list[dict[str, Any]]:
        return [{"order": 1, "computeEnvironment": self.environment}]

    def create(self, aws: Aws) -> Callable[[], None]:
        aws.client("batch").create_job_queue(
            jobQueueName=self.name, state="ENABLED", priority=self.priority,
            computeEnvironmentOrder=self._order(), tags=dict(self.tags))
        return lambda: poll(f"job queue {self.name}", lambda: self._live(aws), _settled)

    def update(self, aws: Aws, live: Settings) -> None:
        wanted = self.wanted()
        if any(wanted[k] != live[k] for k in ("state", "priority", "environments")):
            aws.client("batch").update_job_queue(
                jobQueue=self.name, state="ENABLED", priority=self.priority,
                computeEnvironmentOrder=self._order())
            poll(f"job queue {self.name}", lambda: self._live(aws), _settled)
        _retag(aws, self._live(aws), live["tags"], self.tags, "jobQueueArn")

    def delete(self, aws: Aws) -> None:
        batch = aws.client("batch")
        _retire(f"job queue {self.name}", lambda: self._live(aws),
                lambda: batch.update_job_queue(jobQueue=self.name, state="DISABLED"),
                lambda: batch.delete_job_queue(jobQueue=self.name))


@dataclass
class JobDefinition(Resource):
    """The job: the job image pinned by digest, its vCPUs, memory, GPU, environment and role.
    `image` and `role` are read when needed (the image gets its digest when pushed). With
    `nodes`, a multi-node parallel job (SCAR's): every node runs that container, `main_node`
    is the main one."""

    kind = "job definition"
    name: str
    image: Callable[[], str] = field(repr=False, default=lambda: "")
    role: Callable[[], str] = field(repr=False, default=lambda: "")
    vcpus: int = 1
    memory: int = 1024
    gpu: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    fargate: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[Key, ...] = ()  # its job image and role
    nodes: int = 0  # 0: a single-node job
    main_node: int = 0

    def depends_on(self) -> tuple[Key, ...]:
        return self.needs

    def wanted(self) -> Settings:
        return {"image": self.image(), "vcpus": self.vcpus, "memory": self.memory,
                "gpu": self.gpu, "environment": dict(sorted(self.environment.items())),
                "role": self.role(), "fargate": self.fargate, "nodes": self.nodes,
                "main_node": self.main_node, "tags": dict(self.tags)}

    def describe(self) -> str:
        nodes = f", {self.nodes} nodes (main {self.main_node})" if self.nodes else ""
        return f"{self.vcpus} vCPU, {self.memory} MB{', 1 GPU' if self.gpu else ''}{nodes}"

    def _active(self, aws: Aws) -> list[dict[str, Any]]:
        return sorted(paginate(aws.client("batch"), "describe_job_definitions",
                               "jobDefinitions", jobDefinitionName=self.name, status="ACTIVE"),
                      key=lambda d: d["revision"])

    def read(self, aws: Aws) -> Settings | None:
        active = self._active(aws)
        if not active:
            return None
        live = active[-1]
        ensure_ours(self, live.get("tags"), self.tags)
        nodes = live.get("nodeProperties", {}) if live.get("type") == "multinode" else {}
        ranges = nodes.get("nodeRangeProperties") or [{}]
        container = ranges[0].get("container", {}) if nodes else live.get(
            "containerProperties", {})
        needs = {r["type"]: r["value"] for r in container.get("resourceRequirements", ())}
        return {"image": container.get("image"), "vcpus": int(needs.get("VCPU", 0)),
                "memory": int(needs.get("MEMORY", 0)), "gpu": "GPU" in needs,
                "environment": {e["name"]: e["value"] for e in sorted(
                    container.get("environment", ()), key=lambda e: e["name"])},
                "role": container.get("jobRoleArn", ""),
                "fargate": "FARGATE" in live.get("platformCapabilities", ()),
                "nodes": nodes.get("numNodes", 0), "main_node": nodes.get("mainNode", 0),
                "tags": our_tags(live.get("tags"))}

    def _container(self) -> dict[str, Any]:
        needs = [{"type": "VCPU", "value": str(self.vcpus)},
                 {"type": "MEMORY", "value": str(self.memory)}]
        if self.gpu:
            needs.append({"type": "GPU", "value": "1"})
        container: dict[str, Any] = {
            "image": self.image(), "resourceRequirements": needs, "jobRoleArn": self.role(),
            "environment": [{"name": k, "value": v} for k, v in
                            sorted(self.environment.items())]}
        if self.fargate:  # the task pulls from ECR and logs with its execution role
            container["executionRoleArn"] = self.role()
            container["networkConfiguration"] = {"assignPublicIp": "ENABLED"}
        return container

    def _shape(self) -> dict[str, Any]:
        """`type` and the container (SCAR's multi-node shape: the container on nodes 0:)."""
        if not self.nodes:
            return {"type": "container", "containerProperties": self._container()}
        return {"type": "multinode", "nodeProperties": {
            "numNodes": self.nodes, "mainNode": self.main_node,
            "nodeRangeProperties": [{"targetNodes": "0:", "container": self._container()}]}}

    def create(self, aws: Aws) -> None:
        extra = {"platformCapabilities": ["FARGATE"]} if self.fargate else {}
        aws.client("batch").register_job_definition(
            jobDefinitionName=self.name, **self._shape(), tags=dict(self.tags), **extra)

    def update(self, aws: Aws, live: Settings) -> None:
        """A new revision; the older ones are deregistered (one revision stays ACTIVE)."""
        older = self._active(aws)
        self.create(aws)
        for definition in older:
            aws.client("batch").deregister_job_definition(
                jobDefinition=definition["jobDefinitionArn"])

    def delete(self, aws: Aws) -> None:
        for definition in self._active(aws):
            aws.client("batch").deregister_job_definition(
                jobDefinition=definition["jobDefinitionArn"])


def _described(aws: Aws, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """A Batch describe's items; none where Batch is not available to these credentials."""
    try:
        return list(paginate(aws.client("batch"), operation, key, **kwargs))
    except ClientError as error:
        if unavailable(error):
            return []
        raise


def require_batch(aws: Aws) -> None:
    """Refuse, before any change, to plan Batch functions where no Batch answers (LocalStack
    alone, an endpoint without it)."""
    try:
        aws.client("batch").describe_job_queues(maxResults=1)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (404, 501):
            raise UserError(
                f"AWS Batch does not answer at {aws.endpoint('batch')} (LocalStack's "
                "community edition has no Batch): execution_mode 'batch' and 'lambda-batch' "
                "deploy to AWS or local mode (`scar-ci local up`, whose Batch is moto's), or "
                "set AWS_ENDPOINT_URL_BATCH to a Batch endpoint") from None
        raise


def discover_batch(aws: Aws, scope: Scope) -> Iterator[Resource]:
    """The scope's job definitions, job queues and compute environments, found by tag."""
    seen: set[str] = set()
    for item in _described(aws, "describe_job_definitions", "jobDefinitions", status="ACTIVE"):
        name = item["jobDefinitionName"]
        if name not in seen and may_belong(scope, name) and owned(scope, item.get("tags")):
            seen.add(name)
            yield JobDefinition(name, tags=item.get("tags", {}))
    for item in _described(aws, "describe_job_queues", "jobQueues"):
        name = item["jobQueueName"]
        if may_belong(scope, name) and owned(scope, item.get("tags")):
            environments = [_name_of(e["computeEnvironment"])
                            for e in item.get("computeEnvironmentOrder", ())]
            yield JobQueue(name, next(iter(environments), ""), tags=item.get("tags", {}))
    for item in _described(aws, "describe_compute_environments", "computeEnvironments"):
        name = item["computeEnvironmentName"]
        if may_belong(scope, name) and owned(scope, item.get("tags")):
            yield ComputeEnvironment(name, tags=item.get("tags", {}))
