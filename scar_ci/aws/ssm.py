"""SSM Parameter Store: a function's storage credentials as one SecureString parameter.

The keys and tokens of the FDL's `storage_providers` stay out of the function package (which
anyone with `lambda:GetFunction` can download) and out of its environment: they are written to
`/scar-ci/<function>/storage-credentials`, encrypted with the account's `aws/ssm` key, and the
function's role may read that one parameter. The supervisor fetches it on first use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from scar_ci.aws.resource import (
    Resource,
    Settings,
    absent_ok,
    ensure_ours,
    may_belong,
    owned_of,
    paginate,
    unavailable,
)
from scar_ci.aws.session import Aws
from scar_ci.errors import UserError
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import our_tags, tag_dict, tag_list

PREFIX = "/scar-ci/"
SUFFIX = "/storage-credentials"
MAX_VALUE_BYTES = 4096  # the standard tier's limit


def parameter_name(function: str) -> str:
    """Where the credentials of deployed function `function` are kept."""
    return f"{PREFIX}{function}{SUFFIX}"


def parameter_arn(region: str, account: str, function: str) -> str:
    """The ARN the function's role is allowed to read."""
    return f"arn:aws:ssm:{region}:{account}:parameter{parameter_name(function)}"


def _fingerprint(value: str) -> str:
    """Compares two values without showing either in a plan (never stored anywhere)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass
class StorageCredentials(Resource):
    """The SecureString holding `{kind: {id: {setting: secret}}}` of one function."""

    kind = "secret"
    name: str
    credentials: Mapping[str, Any] = field(default_factory=dict, repr=False)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        size = len(self.value.encode())
        if size > MAX_VALUE_BYTES:  # refused while planning: nothing is half deployed
            raise UserError(f"the storage credentials of {self.name.removeprefix(PREFIX)} "
                            f"take {size} bytes, over SSM's {MAX_VALUE_BYTES}: give the "
                            "function fewer storage providers")

    @property
    def value(self) -> str:
        return json.dumps(self.credentials, sort_keys=True, separators=(",", ":"))

    def wanted(self) -> Settings:
        return {"credentials": _fingerprint(self.value), "tags": dict(self.tags)}

    def describe(self) -> str:
        providers = sorted(f"{kind}.{ident}" for kind, ids in self.credentials.items()
                           for ident in ids)
        return f"SecureString: keys of {', '.join(providers)}"

    def read(self, aws: Aws) -> Settings | None:
        ssm = aws.client("ssm")
        found = absent_ok(ssm.get_parameter, Name=self.name, WithDecryption=True)
        if found is None:
            return None
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=self.name)
        live = tag_dict(tags.get("TagList"))
        ensure_ours(self, live, self.tags)
        return {"credentials": _fingerprint(found["Parameter"]["Value"]),
                "tags": our_tags(live)}

    def create(self, aws: Aws) -> None:
        aws.client("ssm").put_parameter(
            Name=self.name, Value=self.value, Type="SecureString",
            Description="storage credentials of a scar-ci function",
            Tags=tag_list(self.tags))

    def update(self, aws: Aws, live: Settings) -> None:
        ssm = aws.client("ssm")
        if live["credentials"] != self.wanted()["credentials"]:
            ssm.put_parameter(Name=self.name, Value=self.value, Type="SecureString",
                              Overwrite=True)
        if live["tags"] != self.tags:
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=self.name,
                                     Tags=tag_list(self.tags))

    def delete(self, aws: Aws) -> None:
        absent_ok(aws.client("ssm").delete_parameter, Name=self.name)


def discover_storage_credentials(aws: Aws, scope: Scope) -> Iterator[StorageCredentials]:
    """The scope's credential parameters (by name under /scar-ci/, then by tag)."""
    ssm = aws.client("ssm")
    filters = [{"Key": "Name", "Option": "BeginsWith", "Values": [PREFIX]}]
    try:
        parameters = list(paginate(ssm, "describe_parameters", "Parameters",
                                   ParameterFilters=filters))
    except ClientError as error:
        if unavailable(error):
            return
        raise
    names = [parameter["Name"] for parameter in parameters if parameter["Name"].endswith(SUFFIX)
             and may_belong(scope, parameter["Name"].removeprefix(PREFIX).removesuffix(SUFFIX))]

    def read_tags(name: str) -> dict[str, str]:
        answer = absent_ok(ssm.list_tags_for_resource, ResourceType="Parameter", ResourceId=name)
        return tag_dict(answer.get("TagList")) if answer else {}

    for name, tags in owned_of(scope, names, read_tags):
        yield StorageCredentials(name, tags=tags)
