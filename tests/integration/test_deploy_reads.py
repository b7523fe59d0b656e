"""What a redeploy that changes nothing asks AWS, counted by the latency proxy at 0 ms (the
requests themselves, not their time): each fact read once, a fixed number of reads per
function, the account-wide listings of the services the FDL and the scope use and no others,
and no mutating request but the scope lock's bookkeeping."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest
from deploy_helpers import LAB_MINIO, deploy, function, teardown, verbs, write_fdl

from scar_ci.scopes.scope import Scope
from scar_testbed.latency_proxy import latency_proxy

pytestmark = pytest.mark.integration

# Each function's own reads: its role (tags and trust, then its inline policy), its
# configuration with its tags (which also say what services to look in), its resource policy
# (its triggers' and API's permissions) and its log group's tags.
PER_FUNCTION = {("iam", "GetRole"): 1, ("iam", "GetRolePolicy"): 1,
                ("lambda", "GetFunction"): 1, ("lambda", "GetPolicy"): 1,
                ("logs", "ListTagsLogGroup"): 1}
# Once per deploy: the account, the tagging pass, the layer's versions; the shared bucket's
# tags, its root listing (the folders) and its notifications; the API's resources and stages.
ONCE = {("sts", "GetCallerIdentity"): 1, ("tagging", "GetResources"): 1,
        ("lambda", "ListLayerVersions"): 1, ("s3", "GetBucketTagging"): 1,
        ("s3", "ListObjectsV2"): 1, ("s3", "GetBucketNotification"): 1,
        ("apigateway", "GetResources"): 1, ("apigateway", "GetStages"): 1}
# Account-wide listings (one page each, more where other tests left many resources).
LISTINGS = {("lambda", "ListFunctions"), ("iam", "ListRoles"), ("logs", "DescribeLogGroups"),
            ("s3", "ListBuckets"), ("apigateway", "GetRestApis")}


def test_a_redeploy_that_changes_nothing_reads_each_fact_once(
        localstack, tmp_path, unique_name, monkeypatch) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [
        function("first", unique_name, outputs="middle"),
        function("second", unique_name, inputs="middle", api_gateway={"name": "second"}),
        function("third", unique_name, inputs="third-in", outputs="third-out"),
    ])
    deploy(fdl, scope)
    with latency_proxy(localstack.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        plan, _ = deploy(fdl, scope)
        counts = proxy.counts()
    monkeypatch.setenv("AWS_ENDPOINT_URL", localstack.endpoint_url)
    teardown(scope)

    assert {c.verb.value for c in plan.changes} == {"keep"}
    assert (counts.mutating, counts.lock) == (0, 4)
    deployment = Counter({op: n for op, n in counts.requests.items() if op[0] != "scope lock"})
    listed = {op for op in deployment if op in LISTINGS}
    assert listed == LISTINGS  # no Batch, ECR or SSM listing: neither the FDL nor the scope
    per_resource = {op: n for op, n in deployment.items() if op not in LISTINGS}
    assert per_resource == Counter({**{op: 3 * n for op, n in PER_FUNCTION.items()}, **ONCE})


def listings(aws) -> set[str]:
    """The services whose optional discovery a deploy made (their account-wide listing)."""
    return {service for service, operation in aws.calls.calls
            if operation in ("GetRestApis", "DescribeParameters", "DescribeRepositories",
                             "DescribeJobQueues")}


def test_a_service_the_scope_no_longer_uses_is_swept_once_then_not_listed(
        localstack, tmp_path, unique_name) -> None:
    """The API and the storage credentials a function had are found (its services tag names
    them) and deleted; the deploys after it list neither service; a function deployed before
    the tag existed makes the deploy look everywhere and changes nothing."""
    scope = Scope.parse(f"manual:{unique_name}")
    rich = function("f", unique_name, api_gateway={"name": "f"}, lambda_settings={
        "output": [{"storage_provider": "minio.lab", "path": "results"}]})
    fdl = write_fdl(tmp_path, [rich], LAB_MINIO)
    deploy(fdl, scope)
    write_fdl(tmp_path, [function("f", unique_name)])
    plan, aws = deploy(fdl, scope)
    name = scope.function_name("f")
    assert {(verb, kind) for verb, kind, _ in verbs(plan) if verb != "keep"} == {
        ("delete", "api"), ("delete", "secret"), ("update", "role"), ("update", "function"),
        ("update", "bucket")}  # and a new s3 output folder
    assert listings(aws) == {"api-gateway", "ssm"}

    _, aws = deploy(fdl, scope)
    assert aws.calls.mutating == [] and listings(aws) == set()

    arn = boto3.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    boto3.client("lambda").untag_resource(Resource=arn, TagKeys=["scar-ci:services"])
    older, aws = deploy(fdl, scope)
    assert aws.calls.mutating == [] and {c.verb.value for c in older.changes} == {"keep"}
    assert listings(aws) == {"api-gateway", "ssm", "batch", "ecr"}
    teardown(scope)
