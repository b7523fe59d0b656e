"""The AWS Batch part of the desired state: what a `batch` or `lambda-batch` function adds.

Its job runs the function image (built on container.image as for `runtime: image`) in its
batch job entry; the compute environment, job queue and job definition take the function's
scoped name. The function's role is the jobs' role too, and may submit to its own queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scar_ci.aws.batch import ComputeEnvironment, JobDefinition, JobImage, JobQueue
from scar_ci.aws.resource import Key, Resource
from scar_ci.aws.session import Account
from scar_ci.errors import UserError
from scar_ci.fdl import Function as FdlFunction
from scar_ci.scopes.scope import Scope

DEFAULT_SERVICE_ROLE = "arn:aws:iam::{account_id}:role/service-role/AWSBatchServiceRole"
DEFAULT_INSTANCE_ROLE = "arn:aws:iam::{account_id}:instance-profile/ecsInstanceRole"
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")


class UnsupportedBatch(UserError):
    """A Batch setting this deploy engine cannot deploy."""

    exit_code = 2


def check_batch_function(function: FdlFunction, where: str) -> None:
    """Refuse, before any AWS call, what a Batch function cannot be deployed with."""
    mode = f"execution_mode '{function.execution_mode}'"
    batch, resources = function.batch, function.batch.compute_resources
    problem = ""
    if not function.container.image:
        problem = (f"{mode} runs the function's image on AWS Batch: give container.image (an "
                   "image in a registry; container.image_file works in Lambda only)")
    elif not function.container.create_image:
        problem = (f"{mode} needs the function image scar-ci builds on container.image "
                   "(the supervisor runs the job): remove container.create_image: false")
    elif not resources.get("subnets") or not resources.get("security_group_ids"):
        problem = (f"{mode} needs batch.compute_resources.subnets and "
                   "batch.compute_resources.security_group_ids: the VPC subnets and security "
                   "groups of the compute environment's instances")
    elif batch.settings.get("type", "MANAGED") != "MANAGED":
        problem = "batch.type: only MANAGED compute environments are deployed; use MANAGED"
    if problem:
        raise UnsupportedBatch(f"{where}: {problem}")


def batch_config(function: FdlFunction, scope: Scope) -> dict[str, Any]:
    """`scar-function.json`'s `batch`: the mode, where the supervisor submits jobs and
    whether they are multi-node parallel jobs (their overrides then go to every node; the
    node count is the job definition's alone)."""
    name = scope.batch_name(function.name)
    config: dict[str, Any] = {"mode": function.execution_mode, "job_queue": name,
                              "job_definition": name}
    if function.batch.nodes:
        config["multi_node"] = True
    return config


def _account(text: str, account: Account) -> str:
    return text.replace("{account_id}", account.account_id)


SCAR_LAUNCH_TEMPLATE = "faas-supervisor"  # scar_ci.fdl.unsupported: the job image has ours


def compute_resources(settings: Mapping[str, Any], account: Account) -> dict[str, Any]:
    """FDL `batch.compute_resources` in Batch's shape (SCAR's defaults for the roles)."""
    kind = settings.get("type", "EC2")
    resources: dict[str, Any] = {
        "type": kind, "maxvCpus": settings["max_v_cpus"],
        "subnets": sorted(settings["subnets"]),
        "securityGroupIds": sorted(settings["security_group_ids"])}
    if kind not in FARGATE_TYPES:
        resources.update({
            "minvCpus": settings["min_v_cpus"], "desiredvCpus": settings["desired_v_cpus"],
            "instanceTypes": sorted(settings["instance_types"]),
            "instanceRole": _account(settings.get("instance_role") or DEFAULT_INSTANCE_ROLE,
                                     account)})
        template = settings.get("launch_template_name")
        if template and template != SCAR_LAUNCH_TEMPLATE:  # SCAR's installs its supervisor
            resources["launchTemplate"] = {"launchTemplateName": template}
    return resources


def batch_resources(function: FdlFunction, scope: Scope, account: Account,
                    role: Callable[[], str], role_key: tuple[Key, ...], tags: dict[str, str],
                    job_image: JobImage) -> list[Resource]:
    """The job image, compute environment, job queue and job definition of a function."""
    batch = function.batch
    name = scope.batch_name(function.name)
    resources = compute_resources(batch.compute_resources, account)
    environment = {"SCAR_LOG_LEVEL": function.log_level, **function.environment,
                   **batch.environment}
    return [
        job_image,
        ComputeEnvironment(name, resources,
                           _account(batch.service_role or DEFAULT_SERVICE_ROLE, account),
                           batch.settings.get("state", "ENABLED"), tags),
        JobQueue(name, name, tags),
        JobDefinition(name, lambda: job_image.uri, role, batch.vcpus, batch.memory,
                      batch.enable_gpu, environment, resources["type"] in FARGATE_TYPES, tags,
                      needs=((job_image.kind, job_image.name), *role_key),
                      nodes=batch.nodes, main_node=batch.main_node if batch.nodes else 0),
    ]


def submit_grant(function: FdlFunction, scope: Scope, account: Account) -> list[dict[str, Any]]:
    """The role's right to submit jobs to its own queue and definition (and, on Fargate,
    to pull the job image and write the job's logs as its execution role)."""
    name = scope.batch_name(function.name)
    arn = f"arn:aws:batch:{account.region}:{account.account_id}"
    statements: list[dict[str, Any]] = [{
        "Sid": "SubmitBatchJobs", "Effect": "Allow", "Action": ["batch:SubmitJob"],
        "Resource": [f"{arn}:job-queue/{name}", f"{arn}:job-definition/{name}",
                     f"{arn}:job-definition/{name}:*"]}]
    if function.batch.compute_resources.get("type") in FARGATE_TYPES:
        statements.append({
            "Sid": "FargateJobPullAndLogs", "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage",
                       "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream",
                       "logs:PutLogEvents"],
            "Resource": "*"})
    return statements
