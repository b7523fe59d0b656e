"""Lambda: the functions, the shared supervisor layer, and invoke permissions."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError, WaiterError

from scar_ci.aws.errors import error_code
from scar_ci.aws.parallel import Once, parallel_map
from scar_ci.aws.resource import (
    Key,
    Resource,
    Settings,
    absent_ok,
    ensure_ours,
    may_belong,
    owned_of,
    paginate,
)
from scar_ci.aws.s3 import PACKAGE_PREFIX
from scar_ci.aws.session import Aws
from scar_ci.errors import UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_IMAGE, TAG_SERVICES, our_tags, tag_value

LAYER_RUNTIMES = ["python3.10", "python3.11", "python3.12", "python3.13"]
LAYER_MARK = "scar-ci supervisor sha256:"
ROLE_WAIT_S = 60  # a new IAM role takes a few seconds before Lambda may assume it


def function_arn(aws: Aws, name: str) -> str:
    return f"arn:aws:lambda:{aws.region}:{aws.account_id}:function:{name}"


def code_sha256(zip_bytes: bytes) -> str:
    """What Lambda reports as CodeSha256: base64 of the zip's sha256."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


# -- invocations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """What Lambda answered to one invocation."""

    status: int
    request_id: str
    payload: str  # the function's answer, as text
    error: str | None = None  # Lambda's FunctionError, when the function failed
    log_tail: str = ""


def invoke_function(aws: Aws, function: str, payload: bytes, *, asynchronous: bool = False,
                    tail: bool = False, once_within: int | None = None) -> Invocation:
    """Invoke `function` with `payload`, waiting for its answer unless asynchronous;
    `once_within`: a single attempt, waiting up to that many seconds (a smoke test)."""
    answer = aws.client("lambda", once_within=once_within).invoke(
        FunctionName=function, Payload=payload,
        InvocationType="Event" if asynchronous else "RequestResponse",
        **({"LogType": "Tail"} if tail and not asynchronous else {}))
    raw = answer["Payload"].read().decode("utf-8", "replace") if "Payload" in answer else ""
    return Invocation(answer.get("StatusCode", 0),
                      answer.get("ResponseMetadata", {}).get("RequestId", ""), raw,
                      answer.get("FunctionError"),
                      base64.b64decode(answer.get("LogResult", "")).decode("utf-8", "replace"))


# -- permissions ---------------------------------------------------------------------------


def permissions(aws: Aws, function: str) -> dict[str, dict[str, Any]]:
    """The statements of a function's resource policy by Sid ({} when it has none)."""
    answer = aws.fact(("lambda policy", function), lambda: absent_ok(
        aws.client("lambda").get_policy, FunctionName=function))
    if not answer:
        return {}
    return {s.get("Sid", ""): s for s in json.loads(answer["Policy"]).get("Statement", ())}


def source_arn(statement: Mapping[str, Any]) -> str | None:
    """The AWS:SourceArn condition of a policy statement."""
    return statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")


def allow_invoke(aws: Aws, function: str, sid: str, principal: str, source: str) -> None:
    """Grant `principal` (from `source`) the right to invoke `function`, replacing `sid`:
    added at once, and only when Lambda answers that `sid` exists, removed and added again
    (a new function has no policy to read first)."""
    client = aws.client("lambda")

    def add() -> None:
        client.add_permission(FunctionName=function, StatementId=sid,
                              Action="lambda:InvokeFunction", Principal=principal,
                              SourceArn=source)

    with _policy_lock(function):  # a trigger and an API of one function apply side by side
        try:
            add()
        except ClientError as error:
            if error_code(error) != "ResourceConflictException" or (
                    "already exists" not in str(error)):
                raise
            client.remove_permission(FunctionName=function, StatementId=sid)
            add()


def revoke_invoke(aws: Aws, function: str, sid: str) -> None:
    """Remove the statement `sid` (no error when it or the function is gone)."""
    with _policy_lock(function):
        absent_ok(aws.client("lambda").remove_permission, FunctionName=function,
                  StatementId=sid)


_policy_locks: dict[str, threading.Lock] = {}
_policy_locks_lock = threading.Lock()


def _policy_lock(function: str) -> threading.Lock:
    """One change at a time to a function's resource policy."""
    with _policy_locks_lock:
        return _policy_locks.setdefault(function, threading.Lock())


# -- the supervisor layer ------------------------------------------------------------------


@dataclass
class SupervisorLayer(Resource):
    """The supervisor layer: a version is published only when none carries its sha256.

    Shared by every scope and never deleted by a teardown.
    """

    kind = "layer"
    name: str
    content: Callable[[], bytes] = field(repr=False, default=bytes)  # the zip, when published
    sha256: str = ""  # of its files (scar_ci.package.layer.layer_digest)
    arn: str | None = None

    def wanted(self) -> Settings:
        return {"sha256": self.sha256}

    def describe(self) -> str:
        return f"sha256 {self.sha256[:12]}…"

    def kept_detail(self) -> str:
        return f"unchanged, sha256 {self.sha256[:12]}…"

    def read(self, aws: Aws) -> Settings | None:
        versions = paginate(aws.client("lambda"), "list_layer_versions", "LayerVersions",
                            LayerName=self.name)
        for version in versions:
            if version.get("Description", "") == f"{LAYER_MARK}{self.sha256}":
                return {**self.wanted(), "arn": version["LayerVersionArn"]}
        return None

    def found(self, live: Settings) -> None:
        self.arn = live["arn"]

    def create(self, aws: Aws) -> None:
        answer = aws.client("lambda").publish_layer_version(
            LayerName=self.name, Description=f"{LAYER_MARK}{self.sha256}",
            Content={"ZipFile": self.content()}, CompatibleRuntimes=LAYER_RUNTIMES,
            LicenseInfo="Apache-2.0")
        self.arn = answer["LayerVersionArn"]

    def update(self, aws: Aws, live: Settings) -> None:
        self.create(aws)

    def delete(self, aws: Aws) -> None:
        """Never: other scopes may use it."""


# -- functions -----------------------------------------------------------------------------


@dataclass
class Function(Resource):
    """A zip function running the supervisor. `role` and `layers` are read when needed,
    since a role or layer planned in the same run only gets its ARN when applied."""

    kind = "function"
    # its triggers and API start while it is Pending (AWS fails only Invoke,
    # UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion then) and wait for it
    # (`until_active`) where it must be Active: a bucket notification (S3 checks its
    # destination with a dry-run invoke), and a permission (LocalStack's AddPermission
    # rewrites the function's version: made while the function turns Active, it undoes that)
    dependents_wait = False
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    code: bytes = field(repr=False, default=b"")
    role: Callable[[], str] = field(repr=False, default=lambda: "")
    layers: Callable[[], list[str]] = field(repr=False, default=list)
    tags: Mapping[str, str] = field(default_factory=dict)
    package_bucket: str | None = None  # upload the zip there (packages over the direct limit)
    needs: tuple[Key, ...] = ()  # its role, log group, layer, image, Batch queue
    package_type: ClassVar[str] = "Zip"
    _not_configuration: ClassVar[tuple[str, ...]] = ("package", "code", "tags")  # other calls

    def wanted(self) -> Settings:
        return {"package": self.package_type, **self.config, "role": self.role(),
                "layers": self.layers(), "code": code_sha256(self.code),
                "tags": dict(self.tags)}

    def depends_on(self) -> tuple[Key, ...]:
        return self.needs

    def describe(self) -> str:
        return f"{self.config['MemorySize']} MB, {self.config['Timeout']} s"

    def read(self, aws: Aws) -> Settings | None:
        answer = function_answer(aws, self.name)
        if answer is None:
            return None
        ensure_ours(self, answer.get("Tags"), self.tags)
        live = dict(self._live_settings(answer))
        if TAG_SERVICES in self.tags and TAG_SERVICES not in live["tags"]:
            # deployed before the tag existed: not a change (the deploys of its scope look in
            # every service); written with the function's next change of tags
            live["tags"] = {**live["tags"], TAG_SERVICES: self.tags[TAG_SERVICES]}
        return live

    def _live_settings(self, answer: dict[str, Any]) -> Settings:
        """What `wanted` compares, read from GetFunction's answer."""
        live = answer["Configuration"]
        settings = {key: _comparable(key, live.get(key)) for key in self.config}
        return {"package": live.get("PackageType", "Zip"), **settings, "role": live.get("Role"),
                "layers": [layer["Arn"] for layer in live.get("Layers", ())],
                "code": live.get("CodeSha256"), "tags": our_tags(answer.get("Tags"))}

    def _arguments(self) -> dict[str, Any]:
        wanted = self.wanted()
        return {**self.config, "Role": wanted["role"], "Layers": wanted["layers"]}

    def _create_arguments(self) -> dict[str, Any]:
        return self._arguments()

    def create(self, aws: Aws) -> Callable[[], None]:
        """Create; the wait until Active is returned, shared with the changes that need it
        (`until_active`): the apply runs it once everything else is done, so functions
        created together settle together, and as late as possible (mostly in one poll)."""
        client = aws.client("lambda")
        code = self._code(aws)
        _retry_role(lambda: client.create_function(
            FunctionName=self.name, Code=code, Tags=self.wanted()["tags"],
            Publish=False, **self._create_arguments()))
        wait = aws.waits[(self.kind, self.name)] = Once(
            lambda: settle(client, "function_active_v2", self.name))
        return wait

    def update(self, aws: Aws, live: Settings) -> None:
        if live["package"] != self.package_type:  # Lambda cannot change it in place
            self.delete(aws)
            self.create(aws)()
            return
        client = aws.client("lambda")
        wanted = self.wanted()
        # a run that died halfway may have left an update going
        settle(client, "function_updated_v2", self.name)
        if any(wanted[k] != live[k] for k in wanted if k not in self._not_configuration):
            _retry_role(lambda: client.update_function_configuration(
                FunctionName=self.name, **self._arguments()))
            settle(client, "function_updated_v2", self.name)
        if wanted["code"] != live["code"]:
            client.update_function_code(FunctionName=self.name, **self._code_update(aws))
            settle(client, "function_updated_v2", self.name)
        if wanted["tags"] != live["tags"]:
            arn = function_arn(aws, self.name)
            stale = [k for k in live["tags"] if k not in wanted["tags"]]
            if stale:
                client.untag_resource(Resource=arn, TagKeys=stale)
            client.tag_resource(Resource=arn, Tags=wanted["tags"])

    def delete(self, aws: Aws) -> None:
        absent_ok(aws.client("lambda").delete_function, FunctionName=self.name)

    def _code_update(self, aws: Aws) -> dict[str, Any]:
        """The arguments of update_function_code besides the name."""
        return self._code(aws)

    def _code(self, aws: Aws) -> dict[str, Any]:
        """The code argument: the zip itself, or its copy in the deployment bucket."""
        if self.package_bucket is None:
            return {"ZipFile": self.code}
        s3 = aws.client("s3")
        key = f"{PACKAGE_PREFIX}{self.name}/{hashlib.sha256(self.code).hexdigest()}.zip"
        if absent_ok(s3.head_object, Bucket=self.package_bucket, Key=key) is None:
            s3.put_object(Bucket=self.package_bucket, Key=key, Body=self.code)
        return {"S3Bucket": self.package_bucket, "S3Key": key}


@dataclass
class ImageFunction(Function):
    """A container-image function (`runtime: image`): the supervisor and the task files are
    in the image, so no layers; the code is the ImageUri, pinned by digest."""

    image: Callable[[], str] = field(repr=False, default=lambda: "")  # pinned by digest
    image_ref: Callable[[], str] = field(repr=False, default=lambda: "")  # host/repo:tag
    architectures: tuple[str, ...] = ("x86_64",)
    package_type: ClassVar[str] = "Image"
    _not_configuration: ClassVar[tuple[str, ...]] = ("package", "code", "tags",
                                                     "architectures")

    def wanted(self) -> Settings:
        return {"package": self.package_type, **self.config,
                "architectures": list(self.architectures), "role": self.role(),
                "code": self.image(),
                "tags": {**self.tags, TAG_IMAGE: tag_value(self.image_ref())}}

    def describe(self) -> str:
        return f"{super().describe()}, image {self.image_ref()}"

    def _live_settings(self, answer: dict[str, Any]) -> Settings:
        live = answer["Configuration"]
        return {"package": live.get("PackageType", "Zip"),
                **{key: _comparable(key, live.get(key)) for key in self.config},
                "architectures": _comparable("Architectures", live.get("Architectures")),
                "role": live.get("Role"), "code": answer.get("Code", {}).get("ImageUri"),
                "tags": our_tags(answer.get("Tags"))}

    def _arguments(self) -> dict[str, Any]:
        return {**self.config, "Role": self.role()}

    def _create_arguments(self) -> dict[str, Any]:
        return {**self._arguments(), "PackageType": "Image",
                "Architectures": list(self.architectures)}

    def _code(self, aws: Aws) -> dict[str, Any]:
        return {"ImageUri": self.image()}

    def _code_update(self, aws: Aws) -> dict[str, Any]:
        return {**self._code(aws), "Architectures": list(self.architectures)}

    def update(self, aws: Aws, live: Settings) -> None:
        if live["architectures"] != list(self.architectures):  # changes with the code only
            live = {**live, "code": ""}
        super().update(aws, live)


def _comparable(key: str, value: Any) -> Any:
    """A live configuration value in the shape scar-ci writes it."""
    if key == "Environment":
        return {"Variables": (value or {}).get("Variables", {})}
    if key == "VpcConfig":
        value = value or {}
        return {"SubnetIds": sorted(value.get("SubnetIds", ())),
                "SecurityGroupIds": sorted(value.get("SecurityGroupIds", ()))}
    if key == "FileSystemConfigs":
        return [{"Arn": f["Arn"], "LocalMountPath": f["LocalMountPath"]} for f in value or ()]
    if key == "Architectures":
        return list(value or ["x86_64"])
    return value if value is not None else ""


class FunctionNotReady(UserError):
    """Lambda put the function in state Failed (or its update failed) and says why."""


def settle(client: Any, waiter: str, name: str) -> None:
    """Wait with Lambda's waiter; when the function ends Failed, say Lambda's reason (an image
    that cannot be pulled, a missing layer, ...) instead of the waiter's expression."""
    try:
        client.get_waiter(waiter).wait(FunctionName=name)
    except WaiterError as error:
        live = absent_ok(client.get_function_configuration, FunctionName=name) or {}
        reason = live.get("StateReason") or live.get("LastUpdateStatusReason")
        if not reason:
            raise
        code = live.get("StateReasonCode") or live.get("LastUpdateStatusReasonCode") or ""
        raise FunctionNotReady(f"Lambda reports the function {live.get('State', '')}: "
                               f"{reason}{f' ({code})' if code else ''}") from error


def until_active(aws: Aws, name: str) -> None:
    """Wait until the function `name` is Active when this session created it (one wait,
    whoever asks first polls); an existing one is settled by its own change."""
    wait = aws.waits.get((Function.kind, name))
    if wait is not None:
        wait()


def until_all_active(aws: Aws, names: Collection[str]) -> None:
    """`until_active` of each of `names`, side by side, once for whoever asks about the same
    names (a bucket's triggers), the others waiting for that one."""
    key = ("functions", tuple(sorted(names)))
    aws.waits.setdefault(key, Once(lambda: parallel_map(
        lambda name: until_active(aws, name), key[1])))()


def _retry_role(call: Callable[[], Any]) -> Any:
    """Run `call`, waiting while Lambda cannot assume a role IAM has only just created."""
    deadline = time.monotonic() + ROLE_WAIT_S
    delay = 1.0
    while True:
        try:
            return call()
        except ClientError as error:
            waiting_for_role = (error_code(error) == "InvalidParameterValueException"
                                and "cannot be assumed" in str(error))
            if not waiting_for_role or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 8.0)


def function_answer(aws: Aws, name: str) -> dict[str, Any] | None:
    """GetFunction's answer (configuration, code, tags), None when there is no such function,
    which the listing says without a GetFunction (both read once while planning: the
    discovery needs the tags, the plan all of it)."""
    if name not in {live["FunctionName"] for live in account_functions(aws)}:
        return None
    return aws.fact(("lambda function", name), lambda: absent_ok(
        aws.client("lambda").get_function, FunctionName=name))


def discover_functions(aws: Aws, scope: Scope, skip: Collection[str] = ()
                       ) -> Iterator[tuple[Function, dict[str, str]]]:
    """The scope's functions, with their tags (but those named in `skip`, which the caller
    reads anyway)."""
    client = aws.client("lambda")
    candidates = [live for live in account_functions(aws)
                  if live["FunctionName"] not in skip and may_belong(scope, live["FunctionName"])]
    for live, tags in owned_of(scope, candidates, lambda live: (absent_ok(
            client.list_tags, Resource=live["FunctionArn"]) or {}).get("Tags", {})):
        yield Function(live["FunctionName"], tags=tags), dict(tags)


def account_functions(aws: Aws) -> list[dict[str, Any]]:
    """Every function of the account and region (read once while planning: the discovery
    takes the scope's from it, and a function's read knows from it whether it exists)."""
    return aws.fact("lambda functions", lambda: list(paginate(
        aws.client("lambda"), "list_functions", "Functions")))
