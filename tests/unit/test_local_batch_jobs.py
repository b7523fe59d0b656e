"""Local mode's Batch jobs as moto's Batch sees them (its Docker client's shape); the jobs that
really run are in tests/integration/test_scar_docs_replay_batch.py."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from scar_ci.local.batch_jobs import JOB_ENV_VARIABLE, job_containers


def _job(node_properties: dict | None = None, container_properties: dict | None = None,
         container_overrides: dict | None = None) -> SimpleNamespace:
    """moto's Job as batch_jobs reads it."""
    return SimpleNamespace(job_id="j-1", job_queue=SimpleNamespace(name="q"),
                           container_overrides=container_overrides or {},
                           job_definition=SimpleNamespace(
                               container_properties=container_properties or {},
                               node_properties=node_properties))


def test_a_job_image_that_cannot_be_fetched_fails_the_job_with_the_reason_as_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAR_CI_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("SCAR_CI_IMAGE_DIR", str(tmp_path / "images"))
    monkeypatch.delenv("SCAR_CI_IMAGE_PULL", raising=False)
    monkeypatch.setenv(JOB_ENV_VARIABLE, "{}")
    job = _job()
    client = job_containers(job)
    assert job_containers(job) is client  # one per job, however often moto asks

    container = client.containers.run(image="127.0.0.1:1/job:t-batch", command=["x"],
                                      environment={}, name="job-j-1", detach=True)
    container.reload()
    assert container.status == "exited"
    assert container.wait() == {"StatusCode": 1}
    stamp, message = container.logs(stdout=False, stderr=True, timestamps=True).decode().split(
        " ", 1)
    assert datetime.fromisoformat(stamp).tzinfo is not None  # moto parses it as Docker's
    assert message.startswith("scar-local batch: SCAR_CI_IMAGE_PULL is not set")
    assert container.logs(stdout=True, stderr=False) == b""
    container.remove()
    assert list((tmp_path / "batch-jobs").iterdir()) == []


def test_each_node_of_a_multi_node_job_is_told_its_index() -> None:
    client = job_containers(_job({"numNodes": 3, "mainNode": 1}))
    told = [client._node() for _ in range(3)]
    assert [n["AWS_BATCH_JOB_NODE_INDEX"] for n in told] == ["0", "1", "2"]
    assert {(n["AWS_BATCH_JOB_NUM_NODES"], n["AWS_BATCH_JOB_MAIN_NODE_INDEX"])
            for n in told} == {("3", "1")}
    assert job_containers(_job())._node() == {}


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("SCAR_CI_FUNCTION_PYTHON", "/nonexistent/python", "No such file or directory"),
    ("SCAR_CI_SANDBOX_UID", "0", "SCAR_CI_SANDBOX_UID='0': a non-root uid"),
])
def test_a_job_container_that_cannot_start_fails_the_job_with_the_reason_as_its_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        reason: str) -> None:
    """The image is in the cache (as a fetch leaves it); what follows fails."""
    image = "127.0.0.1:1/job:t-batch"
    key = hashlib.sha256(f"{image}\0x86_64".encode()).hexdigest()[:32]
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / f"{key}.json").write_text(json.dumps(
        {"container": f"scar-{key}", "config": {"Cmd": ["true"]}}))
    monkeypatch.setenv("SCAR_CI_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("SCAR_CI_IMAGE_DIR", str(tmp_path / "images"))
    monkeypatch.setenv("SCAR_CI_FUNCTION_PYTHON", sys.executable)
    monkeypatch.setenv(JOB_ENV_VARIABLE, "{}")
    monkeypatch.setenv(variable, value)
    client = job_containers(_job({"numNodes": 2}))

    container = client.containers.run(image=image, command=["x"], environment={},
                                      name="job-j-1-0", detach=True)
    container.reload()
    assert container.wait() == {"StatusCode": 1}
    assert reason in container.logs(stdout=False, stderr=True).decode()
    assert client._node()["AWS_BATCH_JOB_NODE_INDEX"] == "1"  # the failed node had index 0
    container.remove()
    assert list((tmp_path / "batch-jobs").iterdir()) == []


def test_the_command_is_the_submits_override_else_the_definitions_else_the_images() -> None:
    """moto passes its own default command when neither names one: the image's Cmd runs."""
    definition = {"image": "job:1"}
    assert not job_containers(_job(container_properties=definition))._has_command()
    assert job_containers(_job(container_properties={**definition, "command": ["a"]})
                          )._has_command()
    assert job_containers(_job(container_properties=definition,
                               container_overrides={"command": ["b"]}))._has_command()
