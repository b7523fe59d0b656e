"""`execution_mode: lambda-batch`: the supervisor runs the script as in Lambda (for real, by
/bin/sh in the image runtime, in process); when Lambda's time would run out, the script is
killed and the same event is submitted to the function's queue on moto's Batch."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import batch_network

from scar_ci.aws.batch import ComputeEnvironment, JobDefinition, JobQueue
from scar_ci.aws.session import Aws
from scar_ci.supervisor.config import BatchTarget, FunctionConfig, Settings
from scar_ci.supervisor.context import LocalContext
from scar_ci.supervisor.invocation import Supervisor
from scar_ci.supervisor.runtimes import ImageRuntime
from scar_ci.supervisor.storage import Storage

pytestmark = pytest.mark.integration


@pytest.fixture
def queue(moto_aws: Any, moto_server: Any, unique_name: str) -> Iterator[str]:
    """A compute environment, queue and job definition named `unique_name` on moto, deleted
    afterwards (moto's state is the session's)."""
    aws, network = Aws(), batch_network(moto_server.url, unique_name)
    resources = network["compute_resources"]
    created = [
        ComputeEnvironment(unique_name, {
            "type": "EC2", "minvCpus": 0, "maxvCpus": 2, "instanceTypes": ["m3.medium"],
            "subnets": resources["subnets"],
            "securityGroupIds": resources["security_group_ids"],
            "instanceRole": resources["instance_role"]}, network["service_role"]),
        JobQueue(unique_name, unique_name),
        JobDefinition(unique_name, lambda: "busybox:1",
                      lambda: "arn:aws:iam::123456789012:role/job")]
    for resource in created:
        settle = resource.create(aws)
        if settle:
            settle()
    yield unique_name
    for resource in reversed(created):
        resource.delete(aws)


def supervisor(tmp_path: Path, queue: str) -> Supervisor:
    config = FunctionConfig(name="fn--pr-1", runtime="image", timeout_threshold=1,
                            batch=BatchTarget("lambda-batch", queue, queue))
    settings = Settings(exec_mode="P1", tmp_dir=tmp_path, udocker_dir=tmp_path / "u",
                        engine_dir=None)
    return Supervisor(config, settings, Storage(config), ImageRuntime())


def script(text: str) -> dict[str, str]:
    return {"script": base64.b64encode(text.encode()).decode()}


def test_a_run_lambda_would_kill_is_handed_over_to_batch(
        tmp_path: Path, queue: str, moto_aws: Any) -> None:
    event = script("echo started; sleep 30; echo never")
    answer = supervisor(tmp_path, queue).handle(event, LocalContext(seconds=3,
                                                                    aws_request_id="req-7"))
    handed = json.loads(answer)
    assert (handed["batch_job_name"], handed["batch_job_queue"]) == ("fn--pr-1-req-7", queue)
    (job,) = moto_aws("batch").describe_jobs(jobs=[handed["batch_job_id"]])["jobs"]
    environment = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert json.loads(environment["SCAR_BATCH_EVENT"]) == event
    assert job["jobQueue"].rsplit("/", 1)[-1] == queue


def test_a_run_that_finishes_in_time_stays_in_lambda(
        tmp_path: Path, queue: str, moto_aws: Any) -> None:
    answer = supervisor(tmp_path, queue).handle(script("echo quick"),
                                                LocalContext(seconds=10))
    assert answer == "quick\n"
    batch = moto_aws("batch")
    assert all(batch.list_jobs(jobQueue=queue, jobStatus=state)["jobSummaryList"] == []
               for state in ("SUBMITTED", "PENDING", "RUNNABLE", "RUNNING", "FAILED"))
