"""The supervisor's Batch halves without AWS: what a submitted job carries, what is refused
before submitting, and the job entry really running a script (by /bin/sh) to its exit code."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from scar_ci.supervisor.batch_submit import MAX_OVERRIDES, job_name, job_overrides, submit_job
from scar_ci.supervisor.config import BatchTarget, load_config
from scar_ci.supervisor.errors import BadRequest, ConfigError
from scar_ci.supervisor.events import parse_event


def test_the_overrides_carry_the_event_and_the_request_id():
    event = {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "in/x"}}}]}
    environment = {e["name"]: e["value"] for e in job_overrides(event, "req-1")["environment"]}
    assert json.loads(environment["SCAR_BATCH_EVENT"]) == event
    assert environment["SCAR_BATCH_REQUEST_ID"] == "req-1"


def test_an_event_over_batchs_overrides_limit_is_refused_saying_what_to_do():
    script = base64.b64encode(b"x" * MAX_OVERRIDES).decode()
    with pytest.raises(BadRequest) as refused:
        job_overrides({"script": script}, "req-1")
    assert "over AWS Batch's 24 KiB: upload the input (or the script, as the function's " \
           "init_script) instead" in str(refused.value)


def test_job_names_keep_to_batchs_alphabet_and_length():
    assert job_name("fn--pr-7", "a1b2.c3/d4") == "fn--pr-7-a1b2-c3-d4"
    assert len(job_name("f" * 64, "r" * 100)) == 128


def test_the_configuration_names_the_queue_and_rejects_an_unknown_mode(tmp_path: Path):
    path = tmp_path / "scar-function.json"
    path.write_text(json.dumps({"name": "fn", "batch": {
        "mode": "batch", "job_queue": "q", "job_definition": "d"}}))
    assert load_config(path).batch == BatchTarget("batch", "q", "d")
    path.write_text(json.dumps({"name": "fn", "batch": {"mode": "sometimes"}}))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "batch.mode: 'sometimes' is not one of batch, lambda-batch" in str(refused.value)


def test_a_multi_node_functions_configuration_says_so(tmp_path: Path):
    path = tmp_path / "scar-function.json"
    path.write_text(json.dumps({"name": "fn", "batch": {
        "mode": "batch", "job_queue": "q", "job_definition": "d", "multi_node": True}}))
    assert load_config(path).batch == BatchTarget("batch", "q", "d", multi_node=True)


def test_a_multi_node_job_gets_the_event_on_every_node_in_batchs_own_shape():
    """botocore checks the call against Batch's API model before sending it: SubmitJob with
    nodeOverrides on nodes 0: (SCAR's), no containerOverrides."""
    client = boto3.client("batch", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    event = {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "in/x"}}}]}
    with Stubber(client) as stub:
        stub.add_response("submit_job", {"jobName": "fn-req-1", "jobId": "j-1"}, {
            "jobName": "fn-req-1", "jobQueue": "q", "jobDefinition": "d",
            "nodeOverrides": {"nodePropertyOverrides": [
                {"targetNodes": "0:", "containerOverrides": job_overrides(event, "req-1")}]}})
        target = BatchTarget("batch", "q", "d", multi_node=True)
        answer = submit_job(target, "fn", event, "req-1", client)
    assert answer == {"batch_job_id": "j-1", "batch_job_name": "fn-req-1",
                      "batch_job_queue": "q"}


def run_entry(tmp_path: Path, event: object | None,
              **batch: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "scar-function.json"
    config.write_text(json.dumps({"name": "fn", "runtime": "image"}))
    env = {"SCAR_FUNCTION_CONFIG": str(config), "SCAR_TMP_DIR": str(tmp_path / "tmp"),
           "PATH": "/usr/bin:/bin", "SCAR_BATCH_REQUEST_ID": "req-9", **batch}
    if event is not None:
        env["SCAR_BATCH_EVENT"] = json.dumps(event)
    return subprocess.run([sys.executable, "-m", "scar_ci.supervisor.batch_job"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_job_entry_runs_the_script_and_exits_with_its_code(tmp_path: Path):
    script = base64.b64encode(b'echo "job $REQUEST_ID"; exit 3').decode()
    done = run_entry(tmp_path, {"script": script})
    assert done.returncode == 3
    assert done.stdout.count("job req-9\n") == 1
    assert "the request script exited with code 3" in done.stdout + done.stderr


def test_each_node_of_a_multi_node_job_tells_the_script_where_it_runs(tmp_path: Path):
    """What Batch sets on a child node of a multi-node parallel job reaches the script (SCAR's
    MPI example finds its main node by them)."""
    script = base64.b64encode(b'echo "node $AWS_BATCH_JOB_NODE_INDEX/$AWS_BATCH_JOB_NUM_NODES '
                              b'main $AWS_BATCH_JOB_MAIN_NODE_INDEX at '
                              b'$AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"').decode()
    done = run_entry(tmp_path, {"script": script}, AWS_BATCH_JOB_NODE_INDEX="2",
                     AWS_BATCH_JOB_NUM_NODES="3", AWS_BATCH_JOB_MAIN_NODE_INDEX="0",
                     AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS="10.7.1.4")
    assert done.returncode == 0, done.stderr
    assert "node 2/3 main 0 at 10.7.1.4\n" in done.stdout
    assert "node 2 of 3 nodes (main node 0)" in done.stdout + done.stderr


def test_the_job_entry_without_an_event_says_what_it_is_for(tmp_path: Path):
    done = run_entry(tmp_path, None)
    assert done.returncode == 2
    assert "SCAR_BATCH_EVENT is not set: this image's batch entry runs jobs a scar-ci " \
           "function submitted" in done.stdout + done.stderr


def test_each_s3_record_is_handed_over_alone():
    records = [{"s3": {"bucket": {"name": "b"}, "object": {"key": f"in/{n}"}}} for n in (1, 2)]
    jobs = parse_event({"Records": records})
    assert [job.source for job in jobs] == [{"Records": [records[0]]}, {"Records": [records[1]]}]
    direct = {"cmd_args": ["true"]}
    assert parse_event(direct)[0].source == direct
