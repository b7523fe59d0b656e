"""The desired state: the resources an FDL asks for in a scope, each naming what it needs.

Pure: an FDL, a scope, an account and the supervisor layer in, resources out (no AWS call).
A function needs its role, log group, credentials, layer or image (and a Batch function its
job queue and definition); a trigger its function and bucket; an API its function; so
chained functions (one's output folder is another's input folder) deploy in any FDL order:
the shared bucket is created once, each function is created, then each input folder gets
its trigger. The planner orders the changes from those needs (deploy/plan.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scar_ci.aws.apigateway import RestApi
from scar_ci.aws.batch import JobDefinition, JobImage, JobQueue
from scar_ci.aws.ecr import FunctionImage, ImageOptions, Repository, lifecycle_policy
from scar_ci.aws.iam import ASSUME_BATCH, ASSUME_LAMBDA, Role, least_privilege, role_arn
from scar_ci.aws.lambda_ import Function, ImageFunction, SupervisorLayer
from scar_ci.aws.logs import LogGroup
from scar_ci.aws.resource import Key, Resource
from scar_ci.aws.s3 import Bucket, split_path
from scar_ci.aws.session import Account
from scar_ci.aws.ssm import StorageCredentials, parameter_arn, parameter_name
from scar_ci.aws.triggers import Trigger
from scar_ci.deploy.desired_batch import (
    batch_config,
    batch_resources,
    check_batch_function,
    submit_grant,
)
from scar_ci.deploy.discovery import services_tag
from scar_ci.errors import UserError
from scar_ci.fdl import Fdl, StorageProvider, StorageRef
from scar_ci.fdl import Function as FdlFunction
from scar_ci.fdl.model import LAUNCH_PATH, ApiGateway, launch_path, thaw
from scar_ci.fdl.scar_values import SCAR_LAYER_NAME
from scar_ci.package.function_zip import config_json, function_config, function_zip
from scar_ci.package.layer import HANDLER
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.storage import NO_CHAIN, ChainedBuckets
from scar_ci.scopes.tags import (
    TAG_API_PATH,
    TAG_DELETE_IMAGES,
    TAG_FDL,
    TAG_IMAGE,
    TAG_LAMBDA,
    TAG_SERVICES,
    TAG_STAGE,
    TAG_SUPERVISOR,
    tag_value,
)
from scar_ci.supervisor.config import CONFIG_FILE_NAME

DEFAULT_LAYER = "scar-ci-supervisor"
class UnsupportedFunction(UserError):
    """An FDL function this deploy engine cannot deploy (yet)."""

    exit_code = 2


@dataclass(frozen=True)
class Names:
    """How one FDL function's resources are called in a scope."""

    function: str
    log_group: str
    role: str | None  # None when the FDL gives a role ARN

    @classmethod
    def of(cls, function: FdlFunction, scope: Scope) -> Names:
        return cls(scope.function_name(function.name), scope.log_group(function.name),
                   None if function.iam_role else scope.role_name(f"scar-ci-{function.name}"))


def _own_s3(refs: Iterable[StorageRef]) -> list[StorageRef]:
    """The refs on the default S3 provider: those buckets are the deployment's to manage."""
    return [r for r in refs if r.storage_provider == "s3"]


def scoped_path(scope: Scope, ref: StorageRef, chained: ChainedBuckets = NO_CHAIN) -> str:
    """An FDL path in the scope: the bucket renamed when the deployment's (`chained`: the
    FDL's buckets, for paths on other providers into them), the folder kept."""
    return chained.path(scope, ref.storage_provider, ref.path)


def _arn_pattern(scope: Scope, ref: StorageRef, default_folder: str = "") -> str:
    bucket, folder = split_path(scoped_path(scope, ref))
    folder = folder or default_folder
    return f"arn:aws:s3:::{bucket}/{folder}/*" if folder else f"arn:aws:s3:::{bucket}/*"


def check_deployable(fdl: Fdl) -> None:
    """Refuse, before any AWS call (even the account's), what cannot be deployed."""
    for function in fdl.functions:
        _check(function)


def _check(function: FdlFunction) -> None:
    where = f"{function.position.file}:{function.position.line}: function {function.name}"
    if function.uses_image_runtime and not function.container.image:
        raise UnsupportedFunction(f"{where}: runtime 'image' builds on container.image (an "
                                  "image in a registry); container.image_file works with the "
                                  "python3.x runtimes (udocker in a zip)")
    if function.execution_mode != "lambda":
        check_batch_function(function, where)


@dataclass
class Desired:
    """What an FDL wants in a scope."""

    scope: Scope
    resources: list[Resource]
    apis: dict[str, RestApi]  # by deployed function name

    @property
    def images(self) -> dict[str, str]:
        """The image each container-image function runs (`host/repo:tag`), by deployed name."""
        return {r.name: r.image_ref() for r in self.resources if isinstance(r, ImageFunction)}


def desired_state(fdl: Fdl, scope: Scope, account: Account | None,
                  layer_zip: tuple[Callable[[], bytes], str],
                  images: ImageOptions | None = None) -> Desired:
    """The AWS resources `fdl` asks for in `scope` in `account` (None for an FDL without AWS
    functions), with the supervisor layer `(what makes its zip, its digest)`; `images` says
    how function images are built (by the build stage)."""
    check_deployable(fdl)
    if account is None:
        if fdl.functions:
            raise ValueError("AWS functions are deployed in an account: give it")
        return Desired(scope, [], {})
    layer_name = _layer_name(fdl)
    layer = SupervisorLayer(layer_name, content=layer_zip[0], sha256=layer_zip[1])
    buckets: dict[str, Bucket] = {}
    zips = [f for f in fdl.functions if not f.uses_image_runtime]
    resources: list[Resource] = [layer] if zips else []
    apis: dict[str, RestApi] = {}
    for function in fdl.functions:
        first = len(resources)  # this function's own resources are from here on
        names = Names.of(function, scope)
        tags = scope.tags(fdl_function=function.name)
        credentials = _credentials(fdl, function)
        role_of: Callable[[], str]
        needs: list[Key] = []
        if names.role:
            role = Role(names.role, _policy(function, scope, names, account, bool(credentials)),
                        tags, ASSUME_BATCH if function.uses_batch else ASSUME_LAMBDA)
            resources.append(role)
            needs.append(role.key)
            role_of = _constant(role_arn(account.account_id, names.role))
        else:
            role_of = _constant(function.iam_role or "")
        role_key = tuple(needs)
        group = LogGroup(names.log_group, function.log_retention_days,
                         {**tags, TAG_LAMBDA: names.function})
        resources.append(group)
        needs.append(group.key)
        if credentials:
            secret = StorageCredentials(parameter_name(names.function), credentials,
                                        {**tags, TAG_LAMBDA: names.function})
            resources.append(secret)
            needs.append(secret.key)
        for ref in _own_s3((*function.input, *function.output)):
            bucket, folder = split_path(scoped_path(scope, ref))
            entry = buckets.setdefault(bucket, Bucket(bucket, (), scope.tags()))
            if folder and folder not in entry.folders:
                entry.folders = (*entry.folders, folder)
        if function.deployment_bucket and not function.uses_image_runtime:
            bucket = scope.bucket(function.deployment_bucket)  # per scope, as the FDL's others
            needs.append(buckets.setdefault(bucket, Bucket(bucket, (), scope.tags())).key)
        config, files = _package(fdl, function, scope, names, bool(credentials))
        if function.uses_batch:
            config["batch"] = batch_config(function, scope)
        if function.api_gateway and function.api_gateway.run_overrides:
            config["api_overrides"] = True
        if function.uses_image_runtime or function.uses_batch:
            image, image_parts = function_image(function, scope, tags, config, files,
                                                images or ImageOptions())
            resources.extend(image_parts)
        if function.uses_batch:
            batch = batch_resources(function, scope, account, role_of, role_key, tags,
                                    JobImage(image.name, image))
            resources.extend(batch)
            needs.extend(r.key for r in batch if isinstance(r, JobQueue | JobDefinition))
        deployed: Function
        if function.uses_image_runtime:
            deployed = image_function(function, names, role_of, tags,
                                      _info_tags(fdl, function, layer), image,
                                      (*needs, image.key))
        else:
            code = function_zip(config, files)
            deployed = Function(
                names.function, _configuration(function), code, role_of,
                _layers(layer, function), {**tags, **_info_tags(fdl, function, layer)},
                _package_bucket(function, scope, len(code)), (*needs, layer.key))
        resources.append(deployed)
        for ref in _own_s3(function.input):
            bucket, folder = split_path(scoped_path(scope, ref))
            resources.append(Trigger(bucket, folder, names.function))
        if function.api_gateway:
            apis[names.function] = _rest_api(function.api_gateway, scope, names.function, tags)
        own = [*resources[first:], *([apis[names.function]] if function.api_gateway else [])]
        deployed.tags = {**deployed.tags, TAG_SERVICES: services_tag(own)}
    resources.extend(buckets.values())
    resources.extend(apis.values())
    _start_together([r for r in resources if isinstance(r, Trigger)])
    return Desired(scope, resources, apis)


def _start_together(triggers: list[Trigger]) -> None:
    """Each trigger waits for the functions of its bucket's other triggers too, so that the
    bucket's notification entries are written in one batch rather than one at a time as
    each function becomes Active."""
    functions: dict[str, set[str]] = {}
    for trigger in triggers:
        functions.setdefault(trigger.bucket, set()).add(trigger.function)
    for trigger in triggers:
        trigger.along = tuple(sorted(functions[trigger.bucket]))


def _rest_api(api: ApiGateway, scope: Scope, function: str, tags: dict[str, str]) -> RestApi:
    """The function's REST API; its tags name the function, the stage and (when it is not
    `launch`) the URL's last segment, which `ls` and `invoke` read back."""
    api_tags = {**tags, TAG_LAMBDA: function, TAG_STAGE: api.stage_name}
    if (path := launch_path(api.path_part)) != LAUNCH_PATH:
        api_tags[TAG_API_PATH] = path
    return RestApi(scope.api_name(api.name), scope, function, api.stage_name, api.http_method,
                   api_tags, authorization=api.authorization, path_part=api.path_part,
                   method_parameters=api.method_parameters,
                   integration_parameters=api.integration_parameters,
                   source_arns=api.source_arns)


def function_image(function: FdlFunction, scope: Scope, tags: dict[str, str],
                   config: dict[str, Any], files: dict[str, Path], images: ImageOptions
                   ) -> tuple[FunctionImage, list[Resource]]:
    """A function image (the user's, plus the supervisor and the task files, built by
    `images.builder`) and its ECR repository (unless `create_image` is false)."""
    # here: the image specification's registry client (requests) only for image functions
    from scar_ci.package.image.spec import FunctionImageSpec

    repository = scope.ecr_repository(function.name)
    task_files = {CONFIG_FILE_NAME: config_json(config),
                  **{name: path.read_bytes() for name, path in files.items()}}
    image = FunctionImage(repository, FunctionImageSpec(
        base=function.container.image or "", architecture=function.architectures[0],
        alpine=function.container.alpine, create_image=function.container.create_image,
        task_files=task_files, progress=lambda line: images.say(f"image {repository}: {line}")),
        builder=images.builder)
    resources: list[Resource] = [image]
    if function.container.create_image:
        ecr = function.raw.get("ecr", {})
        deletes = function.delete_image if function.delete_image is not None else (
            not scope.is_production)  # unset: previews delete their images, production keeps
        resources.append(Repository(
            repository, {**tags, TAG_DELETE_IMAGES: str(deletes).lower()},
            scan_on_push=ecr.get("scan_on_push", False),
            lifecycle=lifecycle_policy(ecr.get("keep_images"))))
    return image, resources


def image_function(function: FdlFunction, names: Names, role_of: Callable[[], str],
                   tags: dict[str, str], info: dict[str, str], image: FunctionImage,
                   needs: tuple[Key, ...]) -> ImageFunction:
    """A `runtime: image` function running `image`, created after `needs`."""
    settings = {k: v for k, v in _configuration(function).items()
                if k not in ("Runtime", "Handler")}
    return ImageFunction(
        names.function, settings, role=role_of,
        tags={**tags, **info, TAG_SUPERVISOR: "in the image"},
        image=lambda: image.uri, image_ref=lambda: image.ref,
        architectures=function.architectures, needs=needs)


def _package_bucket(function: FdlFunction, scope: Scope, size: int) -> str | None:
    """The deployment bucket when the FDL names one (SCAR uploads through it then; it is
    created when missing), else None while the package is within the direct upload limit."""
    if function.deployment_bucket:
        return scope.bucket(function.deployment_bucket)
    if size <= function.max_payload_size:
        return None
    raise UnsupportedFunction(
        f"{function.position.file}:{function.position.line}: function {function.name}: its "
        f"package is {_size(size)}, over the direct upload limit "
        f"({_size(function.max_payload_size)}, lambda.deployment.max_payload_size); "
        "set lambda.deployment.bucket (created when missing) for packages, or use "
        "container.image instead of a large image_file")


def _size(count: int) -> str:
    """Megabytes as SCAR counts them (2**20 bytes), or bytes below one."""
    return f"{count / 2**20:.0f} MB" if count >= 2**20 else f"{count} bytes"


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def _layer_name(fdl: Fdl) -> str:
    named = (f.raw["lambda"].get("supervisor", {}).get("layer_name") for f in fdl.functions)
    names = {DEFAULT_LAYER if name in (None, "", SCAR_LAYER_NAME) else name for name in named}
    if len(names) > 1:
        raise UnsupportedFunction(f"{fdl.path}: functions name different supervisor layers "
                                  f"({', '.join(sorted(names))}); use one layer_name")
    return names.pop() if names else DEFAULT_LAYER


def _layers(layer: SupervisorLayer, function: FdlFunction) -> Callable[[], list[str]]:
    return lambda: [layer.arn or f"{layer.name}:(new version)", *function.layers]


def _policy(function: FdlFunction, scope: Scope, names: Names, account: Account,
            has_credentials: bool) -> dict[str, Any]:
    group = f"arn:aws:logs:{account.region}:{account.account_id}:log-group:{names.log_group}"
    reads = [_arn_pattern(scope, r) for r in _own_s3(function.input)]
    writes = [_arn_pattern(scope, r, f"{names.function}/output") for r in
              _own_s3(function.output)]
    secrets = (parameter_arn(account.region, account.account_id, names.function)
               if has_credentials else None)
    return least_privilege(group, reads, writes, bool(function.subnet_ids), secrets,
                           submit_grant(function, scope, account) if function.uses_batch
                           else None)


def _configuration(function: FdlFunction) -> dict[str, Any]:
    """The function's settings, in Lambda's own shape."""
    return {
        "Runtime": function.runtime,
        "Handler": HANDLER,
        "MemorySize": function.memory,
        "Timeout": function.timeout,
        "Description": function.description,
        "Environment": {"Variables": {"SCAR_LOG_LEVEL": function.log_level,
                                      **function.environment}},
        "VpcConfig": {"SubnetIds": sorted(function.subnet_ids),
                      "SecurityGroupIds": sorted(function.security_group_ids)},
        "FileSystemConfigs": [{"Arn": fs.arn, "LocalMountPath": fs.local_mount_path}
                              for fs in function.file_systems],
    }


def _package(fdl: Fdl, function: FdlFunction, scope: Scope, names: Names,
             has_credentials: bool) -> tuple[dict[str, Any], dict[str, Path]]:
    """`scar-function.json`'s content and the files that go with it (zip or /var/task);
    with `has_credentials`, it names the parameter holding the providers' secrets."""
    container: dict[str, Any] = {"timeout_threshold": function.container.timeout_threshold,
                                 "environment": dict(function.container.environment)}
    files: dict[str, Path] = {}
    if function.container.image:
        container["image"] = function.container.image
    if function.container.image_file:
        container["image_file"] = function.container.image_file.name
        files[function.container.image_file.name] = function.container.image_file
    if function.init_script:
        files[function.init_script.name] = function.init_script
    if function.extra_payload:
        files.update(_extra_payload(function, files))
    storage: dict[str, dict[str, Any]] = {}
    for provider in _used_providers(fdl, function):
        storage.setdefault(provider.type, {})[provider.id] = thaw(provider.public())
    chained = ChainedBuckets.of(fdl)
    config = function_config(
        names.function, container, function.init_script,
        [{"storage_provider": r.storage_provider, "path": scoped_path(scope, r, chained)}
         for r in function.input],
        [{"storage_provider": r.storage_provider, "path": scoped_path(scope, r, chained),
          "prefix": list(r.prefix), "suffix": list(r.suffix)} for r in function.output],
        storage)
    if function.uses_image_runtime:
        config["runtime"] = "image"
    if has_credentials:
        config["storage_credentials"] = parameter_name(names.function)
    if function.extra_payload:
        config["extra_payload"] = True
    _check_unzipped_size(function, files)
    return config, files


def _extra_payload(function: FdlFunction, taken: dict[str, Path]) -> dict[str, Path]:
    """SCAR's `extra_payload`: the folder's files (or the one file) at the task root, where
    the container finds them in $EXTRA_PAYLOAD. Symbolic links are left out (under Actions
    one could point at the runner's secrets); a name the package already has is refused."""
    root = function.extra_payload
    assert root is not None
    found = ({root.name: root} if root.is_file() else
             {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
              if p.is_file() and not any(q.is_symlink() for q in (p, *p.parents)
                                         if q.is_relative_to(root))})
    clash = sorted(set(found) & {*taken, CONFIG_FILE_NAME})
    if clash:
        raise UnsupportedFunction(
            f"{function.position.file}:{function.position.line}: function {function.name}: "
            f"extra_payload holds {', '.join(clash)}, a name the package already uses "
            "(scar-function.json, the init script, the image file): rename it")
    return found


def _check_unzipped_size(function: FdlFunction, files: dict[str, Path]) -> None:
    """Lambda's limit for a function's unzipped code (SCAR's max_s3_payload_size), at plan
    time: never a failed upload halfway through an apply."""
    size = sum(p.stat().st_size for p in files.values())
    limit = function.max_s3_payload_size
    if size > limit and not function.uses_image_runtime:
        raise UnsupportedFunction(
            f"{function.position.file}:{function.position.line}: function {function.name}: "
            f"its package holds {_size(size)}, over the unzipped limit "
            f"({_size(limit)}, lambda.deployment.max_s3_payload_size); use "
            "container.image (pulled at run time) or runtime: image")


def _used_providers(fdl: Fdl, function: FdlFunction) -> list[StorageProvider]:
    """The FDL's storage providers that the function's inputs and outputs name."""
    used = {ref.storage_provider for ref in (*function.input, *function.output)}
    return [p for p in fdl.storage_providers if f"{p.type}.{p.id}" in used]


def _credentials(fdl: Fdl, function: FdlFunction) -> dict[str, dict[str, dict[str, str]]]:
    """`{kind: {id: {setting: secret}}}` of the providers the function uses."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for provider in _used_providers(fdl, function):
        if secrets := provider.secrets():
            found.setdefault(provider.type, {})[provider.id] = secrets
    return found


def _info_tags(fdl: Fdl, function: FdlFunction, layer: SupervisorLayer) -> dict[str, str]:
    """What `ls` shows without reading the package: the FDL, the image, the supervisor."""
    try:
        fdl_path = fdl.path.resolve().relative_to(fdl.repository.resolve()).as_posix()
    except ValueError:
        fdl_path = fdl.path.name
    image = function.container.image or (function.container.image_file.name
                                         if function.container.image_file else "")
    return {TAG_FDL: tag_value(fdl_path), TAG_IMAGE: tag_value(image),
            TAG_SUPERVISOR: f"sha256:{layer.sha256[:16]}"}
