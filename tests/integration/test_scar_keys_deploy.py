"""SCAR's keys that act at deploy time, deployed in LocalStack with a container that runs
for real: `extra_payload` reaches the script in $EXTRA_PAYLOAD, `preheat` invokes once after
deploying, `deployment.bucket` is created when missing (tagged, found by teardown) and the
package goes through it, as SCAR does; `api_gateway.path_part` names the URL the API serves."""

from __future__ import annotations

import io
import json
import secrets
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from command_helpers import scar, worker_fdl

from scar_ci.aws.s3 import bucket_tags
from scar_ci.aws.session import Aws
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_MANAGED
from scar_testbed.lambda_functions import eventually, zip_of

SCRIPT = 'echo "extra: $(cat "$EXTRA_PAYLOAD/data/hello.txt") from $EXTRA_PAYLOAD"\n'


def test_extra_payload_preheat_and_a_missing_deployment_bucket(
        localstack, tmp_path: Path, test_image_archives, capsys) -> None:
    base = f"scar-t-{secrets.token_hex(5)}"
    shutil.copy(test_image_archives["docker"], tmp_path / "image.tar")
    (tmp_path / "run.sh").write_text(SCRIPT)
    (tmp_path / "extra" / "data").mkdir(parents=True)
    (tmp_path / "extra" / "data" / "hello.txt").write_text("hello")
    (tmp_path / "extra" / "link.txt").symlink_to("/etc/hostname")  # left out
    fdl = tmp_path / "scar.yaml"
    fdl.write_text(yaml.safe_dump({"functions": {"aws": [{"lambda": {
        "name": "keys", "memory": 256, "timeout": 60, "init_script": "run.sh",
        "extra_payload": "extra", "preheat": True, "deployment": {"bucket": f"{base}-deploy"},
        "container": {"image_file": "image.tar", "timeout_threshold": 5}}}]}}))
    scope = ["--scope", f"manual:{base}"]
    name = Scope.parse(f"manual:{base}").function_name("keys")
    bucket = Scope.parse(f"manual:{base}").bucket(f"{base}-deploy")  # per scope

    code, out, err = scar(capsys, "init", "-f", str(fdl), *scope)
    assert code == 0, err
    assert f"+ create  bucket     {bucket}" in out
    assert f"preheated {name} (request " in out
    tags = bucket_tags(Aws(), bucket)
    assert tags is not None and tags.get(TAG_MANAGED) == "true"
    packages = boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"].split("/")[1] for o in packages] == [name]
    package = boto3.client("s3").get_object(Bucket=bucket, Key=packages[0]["Key"])
    names = zipfile.ZipFile(io.BytesIO(package["Body"].read())).namelist()
    assert "data/hello.txt" in names and "link.txt" not in names

    code, out, err = scar(capsys, "run", "-f", str(fdl), *scope, "-j")
    assert code == 0, err
    payload = json.loads(out)["LambdaOutput"]["Payload"]
    assert payload.startswith("extra: hello from ")

    def starts() -> list[str]:  # the preheat's, then the run's (logs arrive after the answer)
        events = boto3.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
        found = [e["message"] for e in events["events"] if e["message"].startswith("START ")]
        return found if len(found) >= 2 else []

    assert len(eventually(starts, "the preheat's and the run's START lines", 60)) == 2

    (tmp_path / "run.sh").write_text("echo broken\nexit 3\n")  # deployed, then preheat fails
    code, out, err = scar(capsys, "init", "-f", str(fdl), *scope)
    assert code == 1 and f"deployed, but preheating {name} failed (request " in err, out + err
    assert "Traceback" not in err
    code, out, err = scar(capsys, "plan", "-f", str(fdl), *scope)
    assert "0 to create, 0 to update, 0 to delete" in out, out + err

    code, out, err = scar(capsys, "teardown", *scope)
    assert code == 0, err
    assert bucket_tags(Aws(), bucket) is None  # only scar-ci's packages: removed


def api_paths(url: str) -> set[str]:
    """The resource paths of the API behind `url` that have a method."""
    api_id = url.split("/restapis/")[1].split("/")[0]
    return {r["path"] for r in boto3.client("apigateway").get_resources(restApiId=api_id)["items"]
            if r.get("resourceMethods")}


def test_path_part_names_the_url_the_api_serves(
        localstack, tmp_path: Path, test_image_archives, capsys) -> None:
    """SCAR's path_part is the resource below / that serves the function: a literal one is
    the URL's last segment (`ls` and `invoke` use it); a redeploy back to `{proxy+}` moves
    the API, and a no-op redeploy changes nothing."""
    base = f"scar-t-{secrets.token_hex(5)}"
    fdl = worker_fdl(tmp_path, base, test_image_archives["docker"])
    document = yaml.safe_load(fdl.read_text())
    document["functions"]["aws"][0]["api_gateway"]["path_part"] = "shout"
    fdl.write_text(yaml.safe_dump(document))
    scope = ["--scope", f"manual:{base}"]
    name = Scope.parse(f"manual:{base}").function_name("worker")

    code, out, err = scar(capsys, "init", "-f", str(fdl), *scope)
    assert code == 0, err
    code, out, err = scar(capsys, "ls", *scope)
    url = next(word for word in out.split() if word.startswith("http"))
    assert url.endswith("/scar/_user_request_/shout"), out
    assert api_paths(url) == {"/", "/shout"}
    assert scar(capsys, "invoke", "-n", name, "-p", "who=path")[:2] == (
        0, "who=path\nhello from init, MODE=\n")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url.replace("/shout", "/launch"), timeout=60)  # noqa: S310
    code, out, err = scar(capsys, "plan", "-f", str(fdl), *scope)
    assert "0 to create, 0 to update, 0 to delete" in out, out + err

    del document["functions"]["aws"][0]["api_gateway"]["path_part"]
    fdl.write_text(yaml.safe_dump(document))
    code, out, err = scar(capsys, "plan", "-f", str(fdl), *scope)
    assert "1 to update" in out and "routes" in out, out + err
    assert scar(capsys, "init", "-f", str(fdl), *scope)[0] == 0
    assert api_paths(url) == {"/", "/{proxy+}"}
    assert scar(capsys, "invoke", "-n", name)[:2] == (0, "hello from init, MODE=\n")
    assert scar(capsys, "teardown", *scope)[0] == 0


MODE = "method.request.querystring.mode"
TYPE_HEADER = "integration.request.header.X-Amz-Invocation-Type"


def api_parameters(url: str) -> list[tuple[dict, dict]]:
    """(method requestParameters, integration requestParameters) of each method of the API."""
    client = boto3.client("apigateway")
    api_id = url.split("/restapis/")[1].split("/")[0]
    return [(client.get_method(restApiId=api_id, resourceId=r["id"], httpMethod=m)
             .get("requestParameters", {}),
             client.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod=m)
             .get("requestParameters", {}))
            for r in client.get_resources(restApiId=api_id)["items"]
            for m in r.get("resourceMethods", {})]


def test_request_parameters_and_source_arns_are_deployed_and_drift_is_corrected(
        localstack, tmp_path: Path, test_image_archives, capsys) -> None:
    """SCAR's method.requestParameters and integration.requestParameters are the API's:
    here `?mode=Event` chooses Lambda's invocation type (LocalStack's proxy integration
    always invokes synchronously, so the call still answers). A no-op redeploy changes
    nothing; a mapping changed behind scar-ci's back is planned live -> wanted and put back.
    source_arn_testing / source_arn_invocation are the invoke permissions' source ARNs."""
    base = f"scar-t-{secrets.token_hex(5)}"
    fdl = worker_fdl(tmp_path, base, test_image_archives["docker"])
    document = yaml.safe_load(fdl.read_text())
    document["functions"]["aws"][0]["api_gateway"].update({
        "method": {"requestParameters": {MODE: False}},
        "integration": {"requestParameters": {TYPE_HEADER: MODE}}})
    fdl.write_text(yaml.safe_dump(document))
    scope = ["--scope", f"manual:{base}"]
    name = Scope.parse(f"manual:{base}").function_name("worker")

    assert scar(capsys, "init", "-f", str(fdl), *scope)[0] == 0
    code, out, err = scar(capsys, "ls", *scope)
    url = next(word for word in out.split() if word.startswith("http"))
    assert api_parameters(url) == [({MODE: False}, {TYPE_HEADER: MODE})] * 2
    assert scar(capsys, "invoke", "-n", name, "-p", "who=mapped")[:2] == (
        0, "who=mapped\nhello from init, MODE=\n")
    code, out, err = scar(capsys, "plan", "-f", str(fdl), *scope)
    assert "0 to create, 0 to update, 0 to delete" in out, out + err

    client = boto3.client("apigateway")
    api_id = url.split("/restapis/")[1].split("/")[0]
    root = next(r for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    integration = client.get_integration(restApiId=api_id, resourceId=root["id"],
                                         httpMethod="ANY")
    client.put_integration(restApiId=api_id, resourceId=root["id"], httpMethod="ANY",
                           type="AWS_PROXY", integrationHttpMethod="POST",
                           uri=integration["uri"], requestParameters={TYPE_HEADER: "'Event'"})
    code, out, err = scar(capsys, "plan", "-f", str(fdl), *scope)
    assert code == 0 and "1 to update" in out, out + err
    assert f"integration_parameters.{TYPE_HEADER} changed" in out, out
    assert scar(capsys, "init", "-f", str(fdl), *scope)[0] == 0
    assert api_parameters(url) == [({MODE: False}, {TYPE_HEADER: MODE})] * 2
    assert source_arns(name) == {"scar-ci-apigateway": f"{own_api(api_id)}/*"}

    own = "arn:aws:execute-api:{api_region}:{account_id}:{api_id}/{stage_name}"
    document["functions"]["aws"][0]["api_gateway"].update({
        "source_arn_testing": f"{own}/GET/*", "source_arn_invocation": f"{own}/POST/*"})
    fdl.write_text(yaml.safe_dump(document))
    assert scar(capsys, "init", "-f", str(fdl), *scope)[0] == 0
    assert source_arns(name) == {"scar-ci-apigateway": f"{own_api(api_id)}/scar/GET/*",
                                 "scar-ci-apigateway-invocation": f"{own_api(api_id)}/scar/POST/*"}
    code, out, err = scar(capsys, "plan", "-f", str(fdl), *scope)
    assert "0 to create, 0 to update, 0 to delete" in out, out + err
    assert scar(capsys, "invoke", "-n", name)[:2] == (0, "hello from init, MODE=\n")
    for key in ("source_arn_testing", "source_arn_invocation"):
        del document["functions"]["aws"][0]["api_gateway"][key]
    fdl.write_text(yaml.safe_dump(document))
    assert scar(capsys, "init", "-f", str(fdl), *scope)[0] == 0
    assert source_arns(name) == {"scar-ci-apigateway": f"{own_api(api_id)}/*"}
    assert scar(capsys, "teardown", *scope)[0] == 0


def own_api(api_id: str) -> str:
    account = boto3.client("sts").get_caller_identity()["Account"]
    return f"arn:aws:execute-api:us-east-1:{account}:{api_id}"


def source_arns(function: str) -> dict[str, str]:
    """The source ARN of each API Gateway statement of the function's resource policy."""
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName=function)["Policy"])
    return {s["Sid"]: s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]
            if s["Sid"].startswith("scar-ci-apigateway")}


def test_a_role_or_layer_the_account_lacks_is_refused_at_plan_before_any_change(
        localstack, tmp_path: Path, test_image_archives, capsys) -> None:
    """CreateFunction would refuse them in the middle of the apply, after the log group: the
    plan reads them first (the role from the account's role listing it reads anyway)."""
    base = f"scar-t-{secrets.token_hex(5)}"
    shutil.copy(test_image_archives["docker"], tmp_path / "image.tar")
    (tmp_path / "run.sh").write_text("echo hi\n")
    role = boto3.client("iam").create_role(RoleName=f"{base}-given",
                                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    layer = boto3.client("lambda").publish_layer_version(
        LayerName=f"{base}-layer", Content={"ZipFile": zip_of({"python/x.py": ""})}
    )["LayerVersionArn"]
    fdl = tmp_path / "scar.yaml"

    def given(verb: str, role: str, layer: str) -> tuple[int, str, str]:
        fdl.write_text(yaml.safe_dump({"functions": {"aws": [{
            "lambda": {"name": "given", "init_script": "run.sh", "layers": [layer],
                       "container": {"image_file": "image.tar"}},
            "iam": {"role": role}}]}}))
        return scar(capsys, verb, "-f", str(fdl), "--scope", f"manual:{base}")

    missing_layer = f"{layer.rsplit(':', 1)[0]}:9"
    code, _, err = given("init", role.replace("-given", "-gone"), missing_layer)
    assert code == 1, err
    assert (f"scar.yaml:4:13: functions.aws[0].iam.role: '{role.replace('-given', '-gone')}': "
            f"account 000000000000 has no role {base}-gone") in err, err
    assert (f"scar.yaml:10:9: functions.aws[0].lambda.layers[0]: '{missing_layer}': no such "
            "layer version") in err, err
    assert err.rstrip().endswith("nothing was changed")
    scope = Scope.parse(f"manual:{base}")
    assert boto3.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{scope.function_name('given')}")["logGroups"] == []
    code, out, err = given("plan", role, layer)
    assert code == 0 and "+ create  function" in out, err
    boto3.client("iam").delete_role(RoleName=f"{base}-given")
    boto3.client("lambda").delete_layer_version(LayerName=f"{base}-layer", VersionNumber=1)
