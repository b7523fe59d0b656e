"""The deploy engine against LocalStack: fresh deploy, no-op redeploy, updates in place,
the sweeper, scopes side by side, teardown without a trace, foreign resources left alone."""

from __future__ import annotations

import json

import boto3
import pytest
from deploy_helpers import (
    LAB_MINIO,
    deploy,
    function,
    package_file,
    teardown,
    verbs,
    write_fdl,
)

from scar_ci import cli
from scar_ci.aws.resource import ForeignResource
from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.deploy.desired import UnsupportedFunction
from scar_ci.scopes.scope import Scope
from scar_ci.supervisor.errors import ConfigError
from scar_ci.supervisor.storage import read_credentials
from scar_testbed.lambda_functions import zip_of
from scar_testbed.scope_collisions import colliding_branches, stage_hash_width

pytestmark = pytest.mark.integration


@pytest.fixture
def scope(localstack, unique_name):
    return Scope.parse(f"manual:{unique_name}")


def live_function_names() -> set[str]:
    pages = boto3.client("lambda").get_paginator("list_functions").paginate()
    return {f["FunctionName"] for page in pages for f in page["Functions"]}


def test_fresh_deploy_creates_everything_and_a_redeploy_only_reads(tmp_path, scope, unique_name):
    fdl = write_fdl(tmp_path, [
        function("one", unique_name, outputs="middle"),
        function("two", unique_name, inputs="middle",
                 api_gateway={"name": "two"}, cloudwatch={"log_retention_policy_in_days": 7}),
    ])
    plan, _ = deploy(fdl, scope)
    created = {(kind, name) for verb, kind, name in verbs(plan) if verb == "create"}
    one, two, bucket = scope.function_name("one"), scope.function_name("two"), scope.bucket(
        unique_name)
    assert {("function", one), ("function", two), ("bucket", bucket), ("api", two),
            ("trigger", f"{bucket}/input -> {one}"),
            ("trigger", f"{bucket}/middle -> {two}"),
            ("log group", f"/aws/lambda/{two}")} <= created

    config = boto3.client("lambda").get_function(FunctionName=two)
    assert config["Configuration"]["Handler"] == "scar_ci.supervisor.handler.lambda_handler"
    assert config["Tags"]["scar-ci:scope"] == scope.label
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{two}")
    assert groups["logGroups"][0]["retentionInDays"] == 7
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"input/", "middle/", "output/"}

    again, aws = deploy(fdl, scope)
    assert aws.calls.mutating == []
    assert {verb for verb, _, _ in verbs(again)} == {"keep"}
    teardown(scope)


def test_a_changed_memory_updates_the_function_in_place_and_nothing_else(tmp_path, scope,
                                                                          unique_name):
    fdl = write_fdl(tmp_path, [function("f", unique_name)])
    deploy(fdl, scope)
    write_fdl(tmp_path, [function("f", unique_name, lambda_settings={"memory": 1024})])
    plan, aws = deploy(fdl, scope)
    name = scope.function_name("f")
    assert [c for c in verbs(plan) if c[0] != "keep"] == [("update", "function", name)]
    assert "MemorySize 512 -> 1024" in plan.render()
    assert aws.calls.mutating == [("lambda", "UpdateFunctionConfiguration")]
    config = boto3.client("lambda").get_function_configuration(FunctionName=name)
    assert config["MemorySize"] == 1024
    teardown(scope)


def test_a_function_removed_from_the_fdl_is_swept_in_its_scope_only(tmp_path, unique_name,
                                                                     localstack):
    here, there = Scope.parse(f"manual:{unique_name}-a"), Scope.parse(f"manual:{unique_name}-b")
    both = [function("keep", unique_name), function("gone", unique_name, inputs="in2")]
    fdl = write_fdl(tmp_path, both)
    deploy(fdl, here)
    deploy(fdl, there)
    write_fdl(tmp_path, both[:1])
    plan, _ = deploy(fdl, here)
    deleted = {(kind, name) for verb, kind, name in verbs(plan) if verb == "delete"}
    gone = here.function_name("gone")
    assert deleted == {("function", gone), ("log group", f"/aws/lambda/{gone}"),
                       ("role", here.role_name("scar-ci-gone")),
                       ("trigger", f"{here.bucket(unique_name)}/in2 -> {gone}")}
    names = live_function_names()
    assert gone not in names
    assert {here.function_name("keep"), there.function_name("gone"),
            there.function_name("keep")} <= names
    notification = boto3.client("s3").get_bucket_notification_configuration(
        Bucket=there.bucket(unique_name))
    assert len(notification["LambdaFunctionConfigurations"]) == 2
    teardown(here)
    teardown(there)


def test_teardown_leaves_nothing_of_its_scope_and_everything_of_another(tmp_path, unique_name,
                                                                        localstack):
    first, second = Scope.parse(f"manual:{unique_name}-1"), Scope.parse(f"manual:{unique_name}-2")
    fdl = write_fdl(tmp_path, [function("f", unique_name, api_gateway={"name": "f"})])
    deploy(fdl, first)
    deploy(fdl, second)
    assert {d.function for d in engine.list_deployed(Aws(), second)} == {
        second.function_name("f")}

    teardown(first)

    aws = Aws()
    assert engine.discover(aws, first) == []
    assert first.function_name("f") not in live_function_names()
    buckets = {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}
    assert first.bucket(unique_name) not in buckets
    assert second.bucket(unique_name) in buckets
    rows = engine.list_deployed(aws, second)
    assert [r.function for r in rows] == [second.function_name("f")]
    assert "/restapis/" in rows[0].url
    teardown(second)
    assert engine.discover(Aws(), second) == []


def test_a_bucket_holding_data_survives_teardown_unless_asked(tmp_path, scope, unique_name):
    fdl = write_fdl(tmp_path, [function("f", unique_name)])
    deploy(fdl, scope)
    bucket = scope.bucket(unique_name)
    boto3.client("s3").put_object(Bucket=bucket, Key="results/kept.txt", Body=b"mine")

    plan = engine.plan_teardown(scope, Aws())
    assert ("keep", "bucket", bucket) in verbs(plan)
    teardown(scope, delete_data=False)
    assert boto3.client("s3").get_object(Bucket=bucket, Key="results/kept.txt")
    teardown(scope, delete_data=True)
    assert engine.discover(Aws(), scope) == []


def test_production_uses_a_foreign_bucket_as_it_is_and_keeps_its_notifications(
        tmp_path, unique_name, localstack):
    s3, lam = boto3.client("s3"), boto3.client("lambda")
    s3.create_bucket(Bucket=unique_name)
    other = lam.create_function(
        FunctionName=f"{unique_name}-other", Runtime="python3.12", Handler="h.handler",
        Role="arn:aws:iam::000000000000:role/other", Code={"ZipFile": zip_of({"h.py": ""})})
    lam.get_waiter("function_active_v2").wait(FunctionName=other["FunctionName"])
    lam.add_permission(FunctionName=other["FunctionName"], StatementId="s3",
                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    foreign = {"Id": "someone-else", "Events": ["s3:ObjectRemoved:*"],
               "LambdaFunctionArn": other["FunctionArn"]}
    s3.put_bucket_notification_configuration(
        Bucket=unique_name, NotificationConfiguration={"LambdaFunctionConfigurations": [foreign]})
    production = Scope.production(source=f"test/{unique_name}")
    fdl = write_fdl(tmp_path, [function(f"{unique_name}-fn", unique_name)])

    plan, _ = deploy(fdl, production)
    assert ("keep", "bucket", unique_name) in verbs(plan)
    assert "not scar-ci's" in plan.render()
    entries = s3.get_bucket_notification_configuration(Bucket=unique_name)[
        "LambdaFunctionConfigurations"]
    assert {e["Id"] for e in entries} == {"someone-else", f"scar-ci--{unique_name}-fn--"
                                          + entries[-1]["Id"].rsplit("--", 1)[1]}
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket=unique_name)

    teardown(production)
    entries = s3.get_bucket_notification_configuration(Bucket=unique_name)[
        "LambdaFunctionConfigurations"]
    assert [e["Id"] for e in entries] == ["someone-else"]
    assert unique_name in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert f"{unique_name}-fn" not in live_function_names()
    lam.delete_function(FunctionName=other["FunctionName"])
    s3.delete_bucket(Bucket=unique_name)


def test_with_a_deployment_bucket_the_package_goes_through_it(tmp_path, scope, unique_name):
    """As SCAR: a named deployment bucket carries the package (here an existing one, not
    scar-ci's: used as it is, kept by teardown; named per scope as the FDL's other buckets)."""
    packages = scope.bucket(f"{unique_name}-packages")
    boto3.client("s3").create_bucket(Bucket=packages)
    fdl = write_fdl(tmp_path, [function("f", unique_name, lambda_settings={
        "deployment": {"bucket": f"{unique_name}-packages"}})])
    deploy(fdl, scope)
    listed = boto3.client("s3").list_objects_v2(Bucket=packages)["Contents"]
    assert [o["Key"].rsplit("/", 1)[0] for o in listed] == [f"scar-ci/{scope.function_name('f')}"]
    _, aws = deploy(fdl, scope)
    assert aws.calls.mutating == []
    teardown(scope)

    write_fdl(tmp_path, [function("f", unique_name, lambda_settings={
        "deployment": {"max_payload_size": 100}})])
    with pytest.raises(UnsupportedFunction, match=r"max_payload_size\); set lambda\.deployment"):
        deploy(fdl, scope)
    boto3.resource("s3").Bucket(packages).objects.all().delete()
    boto3.client("s3").delete_bucket(Bucket=packages)


def test_a_function_of_the_same_name_not_made_by_scar_ci_is_refused(tmp_path, unique_name,
                                                                    localstack, capsys):
    lam = boto3.client("lambda")
    lam.create_function(FunctionName=unique_name, Runtime="python3.12", Handler="h.handler",
                        Role="arn:aws:iam::000000000000:role/other",
                        Code={"ZipFile": zip_of({"h.py": ""})})
    fdl = write_fdl(tmp_path, [function(unique_name, f"{unique_name}-b",
                                        iam={"role": "arn:aws:iam::000000000000:role/given"})])
    assert cli.main(["deploy", "-f", str(fdl), "--scope", "production"]) == 1
    err = capsys.readouterr().err
    assert f"function {unique_name} exists but was not deployed by scar-ci" in err
    assert lam.get_function(FunctionName=unique_name)["Configuration"]["Handler"] == "h.handler"
    lam.delete_function(FunctionName=unique_name)


def test_cli_plan_json_and_teardown_with_the_fdl(tmp_path, scope, unique_name, capsys):
    fdl = write_fdl(tmp_path, [function("f", unique_name)])
    assert cli.main(["plan", "-f", str(fdl), "--scope", scope.stage, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {c["action"] for c in document["changes"]} <= {"create", "keep"}
    assert any(c["kind"] == "role" and "least privilege" in c["detail"]
               for c in document["changes"])
    assert cli.main(["deploy", "-f", str(fdl), "--scope", scope.stage]) == 0
    assert cli.main(["teardown", "-f", str(fdl), "--scope", scope.stage]) == 0
    assert "- delete  function" in capsys.readouterr().out
    assert engine.discover(Aws(), scope) == []


def test_the_api_passes_the_invocation_type_header_and_repairs_it_when_lost(tmp_path, scope,
                                                                             unique_name):
    fdl = write_fdl(tmp_path, [function("f", unique_name, api_gateway={"name": "f"})])
    deploy(fdl, scope)
    client = boto3.client("apigateway")
    api = next(a for a in client.get_rest_apis()["items"] if a["name"] == scope.api_name("f"))
    resources = client.get_resources(restApiId=api["id"])["items"]

    def mappings() -> list[dict[str, str]]:
        return [client.get_integration(restApiId=api["id"], resourceId=r["id"],
                                       httpMethod="ANY").get("requestParameters", {})
                for r in resources]

    wanted = {"integration.request.header.X-Amz-Invocation-Type":
              "method.request.header.X-Amz-Invocation-Type"}
    assert mappings() == [wanted, wanted]
    proxy = next(r for r in resources if r["path"] != "/")
    client.delete_method(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY")
    client.put_method(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY",
                      authorizationType="NONE")
    client.put_integration(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY",
                           type="AWS_PROXY", integrationHttpMethod="POST",
                           uri=client.get_integration(restApiId=api["id"],
                                                      resourceId=resources[0]["id"],
                                                      httpMethod="ANY")["uri"])

    plan, _ = deploy(fdl, scope)
    assert [(c.verb.value, c.kind) for c in plan.mutating] == [("update", "api")]
    assert mappings() == [wanted, wanted]
    assert deploy(fdl, scope)[1].calls.mutating == []
    teardown(scope)


def test_storage_keys_go_to_a_secure_parameter_not_into_the_package(tmp_path, scope,
                                                                   unique_name):
    """The FDL's keys: a SecureString the role alone may read; the package names it only.
    A rotated key changes the parameter and nothing else; rm of the function removes it."""
    keys = [function("keys", unique_name, lambda_settings={"output": [
        {"storage_provider": "minio.lab", "path": "results"}]})]
    fdl = write_fdl(tmp_path, keys, LAB_MINIO)
    plan, _ = deploy(fdl, scope)
    name = f"/scar-ci/{scope.function_name('keys')}/storage-credentials"
    assert ("create", "secret", name) in verbs(plan)
    assert "s3cr3t" not in plan.render()

    parameter = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert json.loads(parameter["Value"]) == {"minio": {"lab": {
        "access_key": "AKIALAB", "secret_key": "s3cr3t-lab-key"}}}
    config = json.loads(package_file(scope.function_name("keys"), "scar-function.json"))
    assert config["storage_credentials"] == name
    assert config["storage_providers"] == {"minio": {"lab": {
        "endpoint": "https://minio.example.org"}}}
    role = boto3.client("iam").get_role_policy(RoleName=f"scar-ci-keys--{scope.stage}",
                                               PolicyName="scar-ci")["PolicyDocument"]
    grant = next(s for s in role["Statement"] if s["Sid"] == "ReadStorageCredentials")
    assert grant["Action"] == ["ssm:GetParameter"] and grant["Resource"][0].endswith(name)

    assert deploy(fdl, scope)[1].calls.mutating == []
    write_fdl(tmp_path, keys, {"minio": {"lab": {**LAB_MINIO["minio"]["lab"],
                                                 "secret_key": "rotated"}}})
    rotated, aws = deploy(fdl, scope)
    assert aws.calls.mutating == [("ssm", "PutParameter")]
    assert [c.detail for c in rotated.mutating] == ["credentials changed"]

    assert cli.main(["rm", "-n", "keys", "--scope", scope.stage]) == 0
    assert boto3.client("ssm").describe_parameters(ParameterFilters=[
        {"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"] == []
    teardown(scope)


def test_the_supervisor_says_what_a_role_needs_for_missing_credentials(localstack):
    with pytest.raises(ConfigError, match=r"ParameterNotFound; .* needs ssm:GetParameter"):
        read_credentials("/scar-ci/nothing--here/storage-credentials")


def test_a_branch_whose_stage_collides_with_another_s_cannot_touch_its_resources(
        tmp_path, unique_name, localstack):
    """Issue 13, hole 8: under a stage hash narrowed to 4 digits (the collision a birthday
    search finds in seconds at 8), branch B's deploy and teardown leave branch A's alone."""
    with stage_hash_width(4):
        first, second, stage = colliding_branches(unique_name)
        a, b = Scope.parse(f"branch:{first}"), Scope.parse(f"branch:{second}")
    assert a.stage == b.stage == stage
    fdl = write_fdl(tmp_path, [function("f", unique_name, api_gateway={"name": "f"})])
    deploy(fdl, a)
    before = sorted((r.kind, r.name) for r in engine.discover(Aws(), a))
    with pytest.raises(ForeignResource, match="another branch whose stage name is also"):
        deploy(fdl, b)
    assert engine.discover(Aws(), b) == []
    teardown(b)
    assert sorted((r.kind, r.name) for r in engine.discover(Aws(), a)) == before
    teardown(a)
    assert engine.discover(Aws(), a) == []
