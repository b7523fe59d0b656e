"""IAM: the least-privilege execution role scar-ci creates when the FDL gives none."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from scar_ci.aws.errors import error_code
from scar_ci.aws.resource import (
    Resource,
    Settings,
    absent_ok,
    ensure_ours,
    may_belong,
    owned_of,
    paginate,
)
from scar_ci.aws.session import Aws
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import our_tags, tag_dict, tag_list

ROLE_PATH = "/scar-ci/"
POLICY_NAME = "scar-ci"


def _assume(*services: str) -> dict[str, Any]:
    """The trust policy letting `services` assume the role (one service as a plain string,
    as the roles deployed before Batch have it, so they compare equal)."""
    principal = services[0] if len(services) == 1 else list(services)
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal},
                           "Action": "sts:AssumeRole"}]}


ASSUME_LAMBDA = _assume("lambda.amazonaws.com")
# A Batch function's role is its jobs' role too: they read and write the same folders.
ASSUME_BATCH = _assume("lambda.amazonaws.com", "ecs-tasks.amazonaws.com")
VPC_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
               "ec2:UnassignPrivateIpAddresses")

GRANTS = {"OwnLogs": "own logs", "ReadInputs": "get inputs", "WriteOutputs": "put outputs",
          "ReadStorageCredentials": "read storage credentials",
          "VpcNetworkInterfaces": "VPC interfaces", "SubmitBatchJobs": "submit Batch jobs"}


def role_arn(account: str, name: str) -> str:
    """The ARN of a role scar-ci creates (under its own path)."""
    return f"arn:aws:iam::{account}:role{ROLE_PATH}{name}"


def least_privilege(log_group_arn: str, reads: list[str], writes: list[str],
                    vpc: bool, credentials: str | None = None,
                    batch: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The policy of a function role: its own logs, gets on its inputs, puts on its outputs,
    reading its storage credentials' parameter (ARN `credentials`) when it has one, and the
    `batch` statements of a Batch function."""
    statements: list[dict[str, Any]] = [{
        "Sid": "OwnLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [log_group_arn, f"{log_group_arn}:*"],
    }]
    if reads:
        statements.append({"Sid": "ReadInputs", "Effect": "Allow", "Action": ["s3:GetObject"],
                           "Resource": sorted(set(reads))})
    if writes:
        statements.append({"Sid": "WriteOutputs", "Effect": "Allow", "Action": ["s3:PutObject"],
                           "Resource": sorted(set(writes))})
    if credentials:
        statements.append({"Sid": "ReadStorageCredentials", "Effect": "Allow",
                           "Action": ["ssm:GetParameter"], "Resource": [credentials]})
    statements.extend(batch or ())
    if vpc:
        statements.append({"Sid": "VpcNetworkInterfaces", "Effect": "Allow",
                           "Action": list(VPC_ACTIONS), "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class Role(Resource):
    """A function's execution role under the path /scar-ci/, with one inline policy."""

    kind = "role"
    name: str
    policy: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    trust: Mapping[str, Any] = field(default_factory=lambda: ASSUME_LAMBDA)  # who may assume it

    def wanted(self) -> Settings:
        return {"policy": self.policy, "tags": dict(self.tags), "trust": self.trust}

    def describe(self) -> str:
        sids = [s["Sid"] for s in self.policy.get("Statement", ())]
        return "created by scar-ci, least privilege: " + ", ".join(
            GRANTS[sid] for sid in sids if sid in GRANTS)

    def read(self, aws: Aws) -> Settings | None:
        if self.name not in {role["RoleName"] for role in account_roles(aws)}:
            return None
        iam = aws.client("iam")
        found = absent_ok(iam.get_role, RoleName=self.name)
        if found is None:
            return None
        tags = tag_dict(found["Role"].get("Tags"))
        ensure_ours(self, tags, self.tags)
        policy = absent_ok(iam.get_role_policy, RoleName=self.name, PolicyName=POLICY_NAME)
        document = policy["PolicyDocument"] if policy else None
        return {"policy": _document(document), "tags": our_tags(tags),
                "trust": _document(found["Role"].get("AssumeRolePolicyDocument"))}

    def create(self, aws: Aws) -> None:
        iam = aws.client("iam")
        iam.create_role(Path=ROLE_PATH, RoleName=self.name,
                        AssumeRolePolicyDocument=json.dumps(self.trust),
                        Description="Execution role of a scar-ci function",
                        Tags=tag_list(self.tags))
        self._put_policy(aws)

    def update(self, aws: Aws, live: Settings) -> None:
        if live["trust"] != self.trust:  # e.g. a Batch function back to Lambda alone
            aws.client("iam").update_assume_role_policy(RoleName=self.name,
                                                        PolicyDocument=json.dumps(self.trust))
        if live["policy"] != self.policy:
            self._put_policy(aws)
        if live["tags"] != self.tags:
            aws.client("iam").tag_role(
                RoleName=self.name, Tags=tag_list(self.tags))

    def _put_policy(self, aws: Aws) -> None:
        aws.client("iam").put_role_policy(RoleName=self.name, PolicyName=POLICY_NAME,
                                          PolicyDocument=json.dumps(self.policy))

    def delete(self, aws: Aws) -> None:
        """Its policy, then the role; only when IAM answers that other policies are still
        in it (added by hand) are they listed and removed first."""
        iam = aws.client("iam")
        absent_ok(iam.delete_role_policy, RoleName=self.name, PolicyName=POLICY_NAME)
        try:
            absent_ok(iam.delete_role, RoleName=self.name)
        except ClientError as error:
            if error_code(error) != "DeleteConflict":
                raise
            for policy in iam.list_role_policies(RoleName=self.name)["PolicyNames"]:
                absent_ok(iam.delete_role_policy, RoleName=self.name, PolicyName=policy)
            for attached in iam.list_attached_role_policies(
                    RoleName=self.name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=self.name, PolicyArn=attached["PolicyArn"])
            absent_ok(iam.delete_role, RoleName=self.name)


def _document(document: Any) -> Any:
    """A policy document as a dict (some endpoints return it URL-encoded JSON text)."""
    if isinstance(document, str):
        from urllib.parse import unquote
        return json.loads(unquote(document))
    return document


def discover_roles(aws: Aws, scope: Scope, skip: Collection[str] = ()) -> Iterator[Role]:
    """The scope's roles: every role under /scar-ci/ whose tags name the scope (but those
    named in `skip`, which the caller reads anyway)."""
    iam = aws.client("iam")
    names = [role["RoleName"] for role in account_roles(aws)
             if role["RoleName"] not in skip and role.get("Path") == ROLE_PATH
             and may_belong(scope, role["RoleName"])]

    def read_tags(name: str) -> dict[str, str]:
        answer = absent_ok(iam.list_role_tags, RoleName=name)
        return tag_dict(answer["Tags"]) if answer else {}

    for name, tags in owned_of(scope, names, read_tags):
        yield Role(name, tags=tags)


def account_roles(aws: Aws) -> list[dict[str, Any]]:
    """Every role of the account, whatever its path, since names are unique across paths
    (read once while planning: the discovery takes the scope's from it, and a role's read
    knows from it whether the role exists). IAM's quota is 1000 roles, 5000 at most: a
    page or a few."""
    return aws.fact("iam roles", lambda: list(paginate(
        aws.client("iam"), "list_roles", "Roles", PaginationConfig={"PageSize": 1000})))
