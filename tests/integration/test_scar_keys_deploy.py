"""SCAR's keys that act at deploy time, deployed in LocalStack with a container that runs
for real: `extra_payload` reaches the script in $EXTRA_PAYLOAD, `preheat` invokes once after
deploying, `deployment.bucket` is created when missing (tagged, found by teardown) and the
package goes through it, as SCAR does."""

from __future__ import annotations

import io
import json
import secrets
import shutil
import zipfile
from pathlib import Path

import boto3
import yaml
from command_helpers import scar

from scar_ci.aws.s3 import bucket_tags
from scar_ci.aws.session import Aws
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_MANAGED

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
    events = boto3.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")
    starts = [e for e in events["events"] if e["message"].startswith("START RequestId")]
    assert len(starts) == 2  # the preheat, then the run

    code, out, err = scar(capsys, "teardown", *scope)
    assert code == 0, err
    assert bucket_tags(Aws(), bucket) is None  # only scar-ci's packages: removed
