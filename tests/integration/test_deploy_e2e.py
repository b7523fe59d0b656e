"""End to end: `scar-ci deploy` of examples/pipeline (two chained functions, one with an API),
an upload to the input folder runs both containers for real (udocker in LocalStack's Lambda),
the result lands in the output folder; `ls` shows it; `teardown` leaves no trace."""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml
from deploy_helpers import package_file

from scar_ci import cli
from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.scopes.scope import Scope

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "pipeline"


def pipeline_for_the_test_bed(folder: Path, image_archive: Path) -> Path:
    """The example as it is, but with the test image as image_file (udocker runs it in F1, the
    supervisor's default, in the executor's sandbox)."""
    for script in ("shout.sh", "count.sh"):
        shutil.copy(EXAMPLE / script, folder / script)
    shutil.copy(image_archive, folder / "image.tar")
    document = yaml.safe_load((EXAMPLE / "scar.yaml").read_text())
    for item in document["functions"]["aws"]:
        settings = item["lambda"]
        settings["container"] = {"image_file": "image.tar", "timeout_threshold": 5}
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def wait_for_object(bucket: str, key: str, timeout: float = 90) -> bytes:
    s3 = boto3.client("s3")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        if any(item["Key"] == key for item in listed):
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        time.sleep(0.5)
    pytest.fail(f"s3://{bucket}/{key} did not appear within {timeout:.0f} s", pytrace=False)


def test_outputs_reach_a_onedata_space(tmp_path, localstack, unique_name,
                                      test_image_archives, fake_onedata):
    """shout alone, its output to onedata.od (a stand-in Oneprovider): FDL -> deploy ->
    scar-function.json + the token in SSM -> supervisor -> CDMI PUT with the token."""
    fdl = pipeline_for_the_test_bed(tmp_path, test_image_archives["docker"])
    document = yaml.safe_load(fdl.read_text())
    shout = document["functions"]["aws"][0]
    shout["lambda"]["output"] = [{"storage_provider": "onedata.od", "path": "results/shouted"}]
    document["functions"]["aws"] = [shout]
    document["storage_providers"] = {"onedata": {"od": fake_onedata.settings()}}
    fdl.write_text(yaml.safe_dump(document))
    scope = Scope.parse(f"manual:{unique_name}")
    assert cli.main(["deploy", "-f", str(fdl), "--scope", scope.stage]) == 0
    try:
        config = json.loads(package_file(scope.function_name("shout"), "scar-function.json"))
        assert config["storage_providers"] == {"onedata": {"od": {
            "oneprovider_host": fake_onedata.url, "space": "test-space"}}}
        boto3.client("s3").put_object(Bucket=scope.bucket("scar-pipeline"),
                                      Key="input/bart.txt", Body=b"eat my shorts\n")
        deadline = time.monotonic() + 90
        while "shouted/bart.txt" not in str(fake_onedata.files) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert fake_onedata.files == {"results/shouted/bart.txt": b"EAT MY SHORTS\n"}
    finally:
        assert cli.main(["teardown", "--scope", scope.stage, "--delete-data"]) == 0
    assert engine.discover(Aws(), scope) == []  # the token's parameter too


def test_deployed_pipeline_processes_an_upload_and_answers_http(
        tmp_path, localstack, unique_name, test_image_archives, capsys):
    fdl = pipeline_for_the_test_bed(tmp_path, test_image_archives["docker"])
    scope = Scope.parse(f"manual:{unique_name}")
    assert cli.main(["deploy", "-f", str(fdl), "--scope", scope.stage, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    url = result["urls"][scope.function_name("count")]

    bucket = scope.bucket("scar-pipeline")
    boto3.client("s3").put_object(Bucket=bucket, Key="input/homer.txt", Body=b"doh ray me\n")
    assert wait_for_object(bucket, "shouted/homer.txt") == b"DOH RAY ME\n"
    assert wait_for_object(bucket, "output/homer.txt.count") == b"3\n"

    request = urllib.request.Request(url, data=b"one two three four\n", method="POST",  # noqa: S310
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=90) as response:  # noqa: S310
        body = response.read()
    assert b"4\n" in (body, base64.b64decode(body))

    assert cli.main(["ls", "--scope", scope.stage]) == 0
    listing = capsys.readouterr().out
    assert scope.function_name("shout") in listing
    assert url in listing

    assert cli.main(["teardown", "--scope", scope.stage, "--delete-data"]) == 0
    assert engine.discover(Aws(), scope) == []
