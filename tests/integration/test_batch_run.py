"""`execution_mode: batch` for real, both halves: an upload to the input folder makes the
function (LocalStack's Lambda) submit a job to moto's Batch, with the event in its overrides;
moto cannot run it (no Docker here), so the job image is pulled back and run under udocker
with the environment moto's describe_jobs gives the job: its output lands in LocalStack's S3."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from batch_helpers import batch_network, moto_client, write_batch_fdl
from deploy_helpers import deploy, teardown
from test_deploy_e2e import wait_for_object
from test_image_build import base_image  # noqa: F401 (a fixture)
from test_image_deploy import ecr, login  # noqa: F401 (ecr: a fixture)

from scar_ci.scopes.scope import Scope
from scar_testbed.registry import Registry
from scar_testbed.udocker_env import Udocker

pytestmark = pytest.mark.integration
JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def submitted_jobs(batch: Any, queue: str, timeout: float = 90) -> list[dict[str, Any]]:
    """The jobs of `queue` in any state, once there is one (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = [job["jobId"] for state in JOB_STATES
               for job in batch.list_jobs(jobQueue=queue, jobStatus=state)["jobSummaryList"]]
        if ids:
            return batch.describe_jobs(jobs=ids)["jobs"]
        time.sleep(0.5)
    pytest.fail(f"no job reached queue {queue} within {timeout:.0f} s", pytrace=False)


def test_an_upload_submits_a_job_whose_image_writes_the_output(
        tmp_path: Path, ecr: Any, ecr_registry: Registry, base_image: str,  # noqa: F811
        moto_server: Any, udocker: Udocker, unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    name, bucket = scope.batch_name("job"), scope.bucket(unique_name)
    fdl = write_batch_fdl(tmp_path, base_image, unique_name,
                          batch_network(moto_server.url, unique_name),
                          environment={"Variables": {"AWS_ENDPOINT_URL_BATCH": moto_server.url}})
    plan, _ = deploy(fdl, scope)
    job_image = next(c.detail for c in plan.changes if c.kind == "job image").split()[1]

    boto3.client("s3").put_object(Bucket=bucket, Key="input/data.txt", Body=b"0123456789")


    (job,) = submitted_jobs(moto_client(moto_server.url, "batch"), name)
    assert job["jobQueue"].rsplit("/", 1)[-1] == name
    assert job["jobDefinition"].rsplit("/", 1)[-1] == f"{name}:1"
    environment = {e["name"]: e["value"] for e in job["container"]["environment"]}
    event = json.loads(environment["SCAR_BATCH_EVENT"])
    assert event["Records"][0]["s3"]["object"]["key"] == "input/data.txt"
    assert job["jobName"] == f"{scope.function_name('job')}-{environment['SCAR_BATCH_REQUEST_ID']}"
    assert environment["SCAR_LOG_LEVEL"] == "INFO"  # the job definition's own

    s3 = boto3.client("s3")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="output/done.txt")["KeyCount"] == 0  # not
    # run by the function: it only submitted
    udocker("login", "--username=AWS", f"--password={login(ecr_registry).password}",
            f"--registry={ecr_registry.url}")
    image = job_image.split("/", 1)[1]
    udocker.pull(image, ecr_registry.url)
    container = f"job-{unique_name}"
    udocker.create(image, container)
    aws = {k: v for k, v in os.environ.items()
           if k.startswith("AWS_") and not k.startswith("AWS_ENDPOINT_URL_")}
    ran = udocker.run(container, env={**environment, **aws}, timeout=180)
    udocker("rm", container, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert wait_for_object(bucket, "output/done.txt", timeout=10) == b"batch job: 10 bytes\n"

    teardown(scope)
