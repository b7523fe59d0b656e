"""The typed, immutable FDL the rest of scar-ci works with (built only from valid data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import KeyPath, Located, Position
from scar_ci.fdl.secret_fields import is_secret_name

Settings = Mapping[str, Any]


def freeze(value: Any) -> Any:
    """Nested dicts and lists as read-only mappings and tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """`freeze`'s read-only mappings and tuples as plain JSON values (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def _variables(environment: Settings | None) -> Mapping[str, str]:
    """`{Variables: {K: V}}` -> read-only {K: str(V)} (YAML may give numbers or booleans)."""
    variables = (environment or {}).get("Variables") or {}
    return MappingProxyType({k: _text(v) for k, v in variables.items()})


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class StorageRef:
    """One `input` or `output` entry: a provider reference and a bucket path."""

    storage_provider: str
    path: str
    prefix: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()

    @property
    def provider_type(self) -> str:
        """`s3`, `minio` or `onedata`."""
        return self.storage_provider.partition(".")[0]

    @property
    def provider_id(self) -> str | None:
        """The id under `storage_providers.<type>`, or None for the default provider."""
        return self.storage_provider.partition(".")[2] or None

    @classmethod
    def from_dict(cls, raw: Settings) -> StorageRef:
        return cls(raw["storage_provider"], raw["path"],
                   tuple(raw.get("prefix", ())), tuple(raw.get("suffix", ())))


@dataclass(frozen=True)
class Container:
    """What runs inside the function: exactly one of `image` and `image_file`."""

    image: str | None
    image_file: Path | None
    timeout_threshold: int
    environment: Mapping[str, str]
    alpine: bool
    create_image: bool


INVOCATION_HEADER = "X-Amz-Invocation-Type"
# SCAR's mapping: the caller's X-Amz-Invocation-Type header reaches Lambda (asynchronous calls).
METHOD_PARAMETERS = MappingProxyType({f"method.request.header.{INVOCATION_HEADER}": False})
INTEGRATION_PARAMETERS = MappingProxyType({f"integration.request.header.{INVOCATION_HEADER}":
                                           f"method.request.header.{INVOCATION_HEADER}"})
# SCAR's source_arn_testing and source_arn_invocation: where API Gateway may invoke from.
SOURCE_ARNS = ("arn:aws:execute-api:{api_region}:{account_id}:{api_id}/*",
               "arn:aws:execute-api:{api_region}:{account_id}:{api_id}/{stage_name}/ANY")
LAUNCH_PATH = "launch"  # the URL's last segment when path_part is a parameter (SCAR's)


def launch_path(path_part: str) -> str:
    """The last segment of the function's URL: the path part, or `launch` when the path part
    is a parameter (`{proxy+}`, `{name}`), which serves it too."""
    return LAUNCH_PATH if path_part.startswith("{") else path_part


@dataclass(frozen=True)
class ApiGateway:
    """The HTTP endpoint in front of a function (present only when the FDL names an API)."""

    name: str
    stage_name: str
    http_method: str
    region: str
    boto_profile: str | None
    settings: Settings
    authorization: str = "NONE"  # method.authorizationType: NONE or AWS_IAM
    run_overrides: bool = False  # HTTP callers may send script / cmd_args / env (AWS_IAM only)
    path_part: str = "{proxy+}"  # the resource below / that serves the function's URL
    # method.requestParameters and integration.requestParameters
    method_parameters: Mapping[str, bool] = field(default_factory=lambda: METHOD_PARAMETERS)
    integration_parameters: Mapping[str, str] = field(
        default_factory=lambda: INTEGRATION_PARAMETERS)
    source_arns: tuple[str, str] = SOURCE_ARNS  # source_arn_testing, source_arn_invocation


@dataclass(frozen=True)
class FileSystem:
    """An EFS access point mounted into the function."""

    arn: str
    local_mount_path: str


@dataclass(frozen=True)
class Batch:
    """AWS Batch settings, used by the `batch` and `lambda-batch` execution modes."""

    region: str
    boto_profile: str | None
    vcpus: int
    memory: int
    enable_gpu: bool
    service_role: str | None
    environment: Mapping[str, str]
    multi_node_parallel: Settings
    compute_resources: Settings
    settings: Settings

    @property
    def nodes(self) -> int:
        """A multi-node parallel job's node count (SCAR's default 10); 0 for one node."""
        parallel = self.multi_node_parallel
        return int(parallel.get("number_nodes", 10)) if parallel.get("enabled") else 0

    @property
    def main_node(self) -> int:
        """The index of a multi-node job's main node (SCAR's default 0)."""
        return int(self.multi_node_parallel.get("main_node_index", 0))


@dataclass(frozen=True)
class Function:
    """One `functions.aws` item after defaults were applied."""

    name: str
    position: Position
    region: str
    boto_profile: str | None
    description: str
    memory: int
    timeout: int
    runtime: str
    architectures: tuple[str, ...]
    execution_mode: str
    log_level: str
    layers: tuple[str, ...]
    environment: Mapping[str, str]
    init_script: Path | None
    run_script: Path | None
    extra_payload: Path | None
    asynchronous: bool
    invocation_type: str
    log_type: str
    preheat: bool
    container: Container
    input: tuple[StorageRef, ...]
    output: tuple[StorageRef, ...]
    iam_role: str | None
    api_gateway: ApiGateway | None
    log_retention_days: int
    delete_image: bool | None  # None: unset (previews delete their images, production keeps)
    batch: Batch
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    file_systems: tuple[FileSystem, ...]
    deployment_bucket: str | None
    max_payload_size: int  # the zip size above which the package goes through S3
    max_s3_payload_size: int  # the unzipped size a package may have
    supervisor_version: str
    raw: Settings = field(repr=False)

    @property
    def uses_image_runtime(self) -> bool:
        """True for a Lambda container image, False for udocker inside a zip."""
        return self.runtime == "image"

    @property
    def uses_batch(self) -> bool:
        """True when executions go to AWS Batch (`batch`) or may (`lambda-batch`)."""
        return self.execution_mode != "lambda"


@dataclass(frozen=True)
class OscarService:
    """An `functions.oscar` item, kept as given (scar-ci deploys to AWS only)."""

    cluster_id: str
    name: str
    position: Position
    raw: Settings = field(repr=False)


@dataclass(frozen=True)
class StorageProvider:
    """Credentials of a storage provider; settings are left out of repr (they hold secrets)."""

    type: str
    id: str
    settings: Settings = field(repr=False)

    def secrets(self) -> dict[str, str]:
        """The settings that are secrets (keys, tokens, passwords), by name."""
        return {k: v for k, v in self.settings.items() if _is_secret(k, v)}

    def public(self) -> dict[str, Any]:
        """The other settings (endpoint, region, host, space, ...)."""
        return {k: v for k, v in self.settings.items() if not _is_secret(k, v)}


def _is_secret(name: str, value: Any) -> bool:
    return isinstance(value, str) and bool(value) and is_secret_name(name)


@dataclass(frozen=True)
class Fdl:
    """A valid FDL file: its functions, OSCAR services and storage providers."""

    path: Path
    repository: Path
    functions: tuple[Function, ...]
    oscar: tuple[OscarService, ...]
    storage_providers: tuple[StorageProvider, ...]
    _located: Located = field(repr=False, compare=False)
    # The configuration file's `oscar` section: access and defaults per cluster id.
    oscar_config: Mapping[str, Settings] = field(default_factory=dict, repr=False)
    notices: tuple[Problem, ...] = ()

    def function(self, name: str) -> Function:
        """The function called `name` (KeyError when there is none)."""
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)

    def position_of(self, path: KeyPath) -> Position:
        """Where the value at `path` (e.g. `('functions', 'aws', 0, 'iam', 'role')`) came from,
        for later errors that should point at the FDL line (or the configuration file)."""
        return self._located.value_position(path, Position(str(self.path)))


def build_fdl(path: Path, repository: Path, doc: Located, name: str,
              oscar_config: Mapping[str, Settings] | None = None,
              notices: tuple[Problem, ...] = ()) -> Fdl:
    """The model of a validated, merged FDL document (`name` is the path as the user gave it);
    `oscar_config` is the configuration file's `oscar` section."""
    functions = doc.data["functions"]
    return Fdl(
        path=path,
        repository=repository,
        functions=tuple(
            _function(item, doc.value_position(("functions", "aws", i), Position(name)),
                      path.parent)
            for i, item in enumerate(functions.get("aws", ()))
        ),
        oscar=tuple(
            OscarService(cluster, service["name"],
                         doc.value_position(("functions", "oscar", i), Position(name)),
                         freeze(service))
            for i, item in enumerate(functions.get("oscar", ()))
            for cluster, service in item.items()
        ),
        storage_providers=tuple(
            StorageProvider(kind, ident, freeze(settings))
            for kind, entries in doc.data.get("storage_providers", {}).items()
            for ident, settings in entries.items()
        ),
        _located=doc,
        oscar_config=freeze(oscar_config or {}),
        notices=notices,
    )


def _profile(settings: Settings) -> str | None:
    """A boto profile; SCAR's `default` (its configuration file names it everywhere) is the
    default credential chain, which also works where no profile file exists (CI, local mode)."""
    profile = settings.get("boto_profile")
    return None if profile in (None, "", "default") else profile


def _path(base: Path, value: str | None) -> Path | None:
    return (base / value).resolve() if value else None


def _function(item: Settings, position: Position, base: Path) -> Function:
    lam = item["lambda"]
    region = lam["region"]
    container, api, batch = lam["container"], item.get("api_gateway", {}), item["batch"]
    vpc = lam.get("vpc", {})
    return Function(
        name=lam["name"],
        position=position,
        region=region,
        boto_profile=_profile(lam),
        description=lam["description"],
        memory=lam["memory"],
        timeout=lam["timeout"],
        runtime=lam["runtime"],
        architectures=tuple(lam.get("architectures", ("x86_64",))),
        execution_mode=lam["execution_mode"],
        log_level=lam["log_level"],
        layers=tuple(lam["layers"]),
        environment=_variables(lam.get("environment")),
        init_script=_path(base, lam.get("init_script")),
        run_script=_path(base, lam.get("run_script")),
        extra_payload=_path(base, lam.get("extra_payload")),
        asynchronous=lam["asynchronous"],
        invocation_type=lam["invocation_type"],
        log_type=lam["log_type"],
        preheat=lam.get("preheat", False),
        container=Container(
            image=container.get("image"),
            image_file=_path(base, container.get("image_file")),
            timeout_threshold=container["timeout_threshold"],
            environment=_variables(container.get("environment")),
            alpine=container.get("alpine", False),
            create_image=container.get("create_image", True),
        ),
        input=tuple(StorageRef.from_dict(r) for r in lam.get("input", ())),
        output=tuple(StorageRef.from_dict(r) for r in lam.get("output", ())),
        iam_role=item.get("iam", {}).get("role") or None,
        api_gateway=ApiGateway(
            name=api["name"],
            stage_name=api["stage_name"],
            http_method=api["http_method"],
            region=api.get("region", region),
            boto_profile=_profile(api),
            settings=freeze(api),
            authorization=api.get("method", {}).get("authorizationType", "NONE"),
            run_overrides=api.get("allow_run_overrides", False),
            path_part=api.get("path_part", "{proxy+}"),
            method_parameters=freeze(api.get("method", {}).get("requestParameters",
                                                               METHOD_PARAMETERS)),
            integration_parameters=freeze(api.get("integration", {}).get(
                "requestParameters", INTEGRATION_PARAMETERS)),
            source_arns=(api.get("source_arn_testing", SOURCE_ARNS[0]),
                         api.get("source_arn_invocation", SOURCE_ARNS[1])),
        ) if "name" in api else None,
        log_retention_days=item["cloudwatch"]["log_retention_policy_in_days"],
        delete_image=item.get("ecr", {}).get("delete_image"),
        batch=Batch(
            region=batch.get("region", region),
            boto_profile=_profile(batch),
            vcpus=batch["vcpus"],
            memory=batch["memory"],
            enable_gpu=batch["enable_gpu"],
            service_role=batch.get("service_role") or None,
            environment=_variables(batch.get("environment")),
            multi_node_parallel=freeze(batch.get("multi_node_parallel", {})),
            compute_resources=freeze(batch["compute_resources"]),
            settings=freeze(batch),
        ),
        subnet_ids=tuple(vpc.get("SubnetIds", ())),
        security_group_ids=tuple(vpc.get("SecurityGroupIds", ())),
        file_systems=tuple(FileSystem(fs["Arn"], fs["LocalMountPath"])
                           for fs in lam.get("file_system", ())),
        deployment_bucket=lam.get("deployment", {}).get("bucket"),
        max_payload_size=lam["deployment"]["max_payload_size"],
        max_s3_payload_size=lam["deployment"]["max_s3_payload_size"],
        supervisor_version=lam["supervisor"]["version"],
        raw=freeze(item),
    )
