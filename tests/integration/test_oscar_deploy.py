"""OSCAR services deployed, previewed and torn down like Lambda functions, through `scar-ci`
against the OSCAR stand-in (driven by oscar-python) and LocalStack."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from scar_ci import cli
from scar_ci.scopes.scope import Scope
from scar_testbed.fake_oscar import PASSWORD, USER, FakeOscar

pytestmark = pytest.mark.integration

SCRIPT = 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"\n'
CLUSTER = "lab"


def service(name: str, bucket: str, **settings: Any) -> dict[str, Any]:
    return {CLUSTER: {"name": name, "image": "scar-test/busybox:1", "script": "upper.sh",
                      "input": [{"storage_provider": "minio", "path": f"{bucket}/in"}],
                      "output": [{"storage_provider": "minio", "path": f"{bucket}/out"}],
                      **settings}}


def zip_function(name: str, script: str, source: str, output: dict[str, str]
                 ) -> dict[str, Any]:
    """A zip function running `script` in the test image (`image.tar` next to the FDL) on
    each object under `source` (an S3 folder), writing to `output`."""
    return {"lambda": {"name": name, "init_script": script,
                       "container": {"image_file": "image.tar", "timeout_threshold": 5},
                       "input": [{"storage_provider": "s3", "path": source}],
                       "output": [output]}}


def write(folder: Path, services: list[dict[str, Any]], functions: list[Any] | None = None,
          **document: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "upper.sh").write_text(SCRIPT)
    path = folder / "scar.yaml"
    body: dict[str, Any] = {"functions": {"oscar": services, **(
        {"aws": functions} if functions else {})}, **document}
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture
def cluster(fake_oscar: FakeOscar, monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> FakeOscar:
    """The stand-in as cluster `lab`: endpoint and credentials in the configuration file, as
    SCAR's scar.cfg has them (HOME points at an empty folder, so only -c counts)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = {"oscar": {CLUSTER: {"endpoint": fake_oscar.url, "auth_user": USER,
                                  "auth_password": PASSWORD, "ssl_verify": False,
                                  "memory": "128Mi"}}}
    (tmp_path / "scar.cfg").write_text(json.dumps(config))
    return fake_oscar


def run(*args: str, config: Path) -> int:
    return cli.main([*args, "-c", str(config)])


def test_deploy_noop_update_sweep_and_teardown_from_the_scope(
        cluster: FakeOscar, tmp_path: Path, unique_name: str, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "scar.cfg"
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write(tmp_path / "repo", [service("upper", unique_name),
                                    service("spare", f"{unique_name}-b")])
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    out = capsys.readouterr().out
    name = scope.oscar_service("upper")
    assert f"+ create  service  {CLUSTER}/{name}" in out
    live = cluster.services[name]
    assert (live["memory"], live["cpu"]) == ("128Mi", "0.2")  # config default, SCAR's default
    assert live["labels"]["scar-ci/scope"] == scope.label
    assert live["annotations"]["scar-ci/fdl-function"] == "upper"
    assert live["input"][0]["path"] == f"{scope.bucket(unique_name)}/in"
    assert f"{cluster.url}/run/{name}" in out

    cluster.calls.clear()
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    assert "= keep    service" in capsys.readouterr().out
    assert cluster.mutating == []  # a no-op redeploy makes 0 mutating calls

    fdl = write(tmp_path / "repo", [service("upper", unique_name, memory="512Mi")])
    assert run("plan", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    plan = capsys.readouterr().out
    assert f"~ update  service  {CLUSTER}/{name}" in plan and "memory 128Mi -> 512Mi" in plan
    spare = scope.oscar_service("spare")
    assert f"- delete  service  {CLUSTER}/{spare}" in plan and "no longer in scar.yaml" in plan
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    capsys.readouterr()
    assert cluster.services[name]["memory"] == "512Mi" and spare not in cluster.services

    assert run("ls", "--scope", scope.stage, config=config) == 0
    listing = capsys.readouterr().out
    assert f"{CLUSTER}/{name}" in listing and f"{cluster.url}/run/{name}" in listing

    monkeypatch.chdir(tmp_path)  # no FDL: the scope and the configuration file alone
    assert run("teardown", "--scope", scope.stage, config=config) == 0
    assert f"- delete  service  {CLUSTER}/{name}" in capsys.readouterr().out
    assert cluster.services == {}


def test_a_deploy_that_failed_halfway_converges(cluster: FakeOscar, tmp_path: Path,
                                                unique_name: str,
                                                capsys: pytest.CaptureFixture) -> None:
    """The cluster refuses the first create: what was done stays, the rerun finishes, the
    run after it changes nothing."""
    config = tmp_path / "scar.cfg"
    fdl = write(tmp_path / "repo", [service("first", unique_name),
                                    service("second", f"{unique_name}-2")])
    scope = ["--scope", "pr-5"]
    cluster.refuse_next.append("POST")
    assert run("deploy", "-f", str(fdl), *scope, config=config) == 1
    err = capsys.readouterr().err
    assert "deploy stopped: create service lab/first--pr-5 failed" in err and "HTTP 500" in err
    assert "Not attempted: 1 change(s)" in err and "Traceback" not in err
    assert cluster.services == {}
    assert run("deploy", "-f", str(fdl), *scope, config=config) == 0
    capsys.readouterr()
    assert sorted(cluster.services) == ["first--pr-5", "second--pr-5"]
    cluster.calls.clear()
    assert run("deploy", "-f", str(fdl), *scope, config=config) == 0
    assert cluster.mutating == []
    assert run("teardown", *scope, config=config) == 0
    assert cluster.services == {}


def test_preview_and_production_side_by_side(cluster: FakeOscar, tmp_path: Path,
                                             unique_name: str,
                                             capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "scar.cfg"
    fdl = write(tmp_path / "repo", [service(unique_name, unique_name)])
    assert run("deploy", "-f", str(fdl), "--scope", "production", config=config) == 0
    assert run("deploy", "-f", str(fdl), "--scope", "pr-7", config=config) == 0
    preview = Scope.pull_request(7)
    assert sorted(cluster.services) == sorted([unique_name, preview.oscar_service(unique_name)])
    assert cluster.services[preview.oscar_service(unique_name)]["output"][0]["path"] == (
        f"{preview.bucket(unique_name)}/out")
    capsys.readouterr()
    assert run("ls", config=config) == 0
    listing = capsys.readouterr().out
    assert "scope production (OSCAR services)" in listing and "scope pr-7" in listing

    assert run("teardown", "--scope", "pr-7", config=config) == 0
    assert list(cluster.services) == [unique_name]  # production untouched
    cluster.calls.clear()
    assert run("deploy", "-f", str(fdl), "--scope", "production", config=config) == 0
    assert cluster.mutating == []
    assert run("teardown", "--scope", "production", config=config) == 0
    assert cluster.services == {}


def test_bad_credentials_one_message_exit_1_nothing_done(
        cluster: FakeOscar, tmp_path: Path, unique_name: str, capsys: pytest.CaptureFixture,
        localstack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Lambda function and a service: the cluster refuses the password while planning, so
    neither AWS nor OSCAR sees a single mutating call."""
    monkeypatch.setenv("SCAR_CI_OSCAR_LAB_AUTH_PASSWORD", "not-the-password")
    bucket = f"{unique_name}-aws"
    fdl = write(tmp_path / "repo", [service("upper", unique_name)], functions=[
        {"lambda": {"name": unique_name, "init_script": "upper.sh",
                    "container": {"image": "scar-test/busybox:1"},
                    "input": [{"storage_provider": "s3", "path": f"{bucket}/in"}]}}])
    code = run("deploy", "-f", str(fdl), "--scope", "pr-3", config=tmp_path / "scar.cfg")
    out, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "refused the credentials (401)" in err and "SCAR_CI_OSCAR_LAB" not in err
    assert "not-the-password" not in out + err
    assert cluster.mutating == [] and cluster.services == {}
    names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    assert Scope.pull_request(3).bucket(bucket) not in names


def test_chain_oscar_to_bucket_to_lambda(cluster: FakeOscar, tmp_path: Path, unique_name: str,
                                         test_image_archives: dict[str, Path],
                                         capsys: pytest.CaptureFixture) -> None:
    """SCAR's mask-detector shape: an upload to the service's MinIO input runs it on OSCAR;
    its output lands in an S3 bucket that triggers a Lambda function (udocker in LocalStack's
    Lambda), whose result lands in the bucket's result folder."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(test_image_archives["docker"], repo / "image.tar")
    (repo / "mark.sh").write_text(
        'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").seen"\n')
    shared = f"{unique_name}-shared"
    detector = zip_function(f"{unique_name}-detect", "mark.sh", f"{shared}/intermediate",
                            {"storage_provider": "s3", "path": f"{shared}/result"})
    anon = service("anon", unique_name, output=[
        {"storage_provider": "minio", "path": f"{unique_name}/out"},
        {"storage_provider": "s3.aws", "path": f"{shared}/intermediate"}])
    fdl = write(repo, [anon], functions=[detector], storage_providers={
        "s3": {"aws": {"access_key": "test", "secret_key": "test", "region": "us-east-1"}}})
    scope = Scope.parse(f"manual:{unique_name}")
    config = tmp_path / "scar.cfg"
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    out = capsys.readouterr().out
    order = [line.split()[2] for line in out.splitlines() if line.startswith("  + create")]
    assert order.index("service") > order.index("trigger")  # the chain's sink first
    try:
        cluster.s3().put_object(Bucket=scope.bucket(unique_name), Key="in/frame.txt",
                                Body=b"a face\n")
        s3 = boto3.client("s3")
        key, deadline = "result/frame.txt.seen", time.monotonic() + 120
        while time.monotonic() < deadline:
            found = s3.list_objects_v2(Bucket=scope.bucket(shared), Prefix="result/")
            if any(o["Key"] == key for o in found.get("Contents", ())):
                break
            time.sleep(0.5)
        body = s3.get_object(Bucket=scope.bucket(shared), Key=key)["Body"].read()
        assert body == b"A FACE\n"  # upper-cased on OSCAR, then passed on by Lambda
    finally:
        assert run("teardown", "--scope", scope.stage, "--delete-data", config=config) == 0
    assert cluster.services == {}


def test_verbs_on_a_service(cluster: FakeOscar, tmp_path: Path, unique_name: str,
                            capsys: pytest.CaptureFixture) -> None:
    """invoke / run (-a) / put / logs / get / rm on a deployed service, by its FDL name and by
    the name `ls` shows."""
    config = tmp_path / "scar.cfg"
    fdl = write(tmp_path / "repo", [service("upper", unique_name)])
    scope = ["--scope", "pr-9"]
    on = ["-f", str(fdl), "-n", "upper", *scope]
    assert run("deploy", "-f", str(fdl), *scope, config=config) == 0
    deployed = f"{CLUSTER}/{Scope.pull_request(9).oscar_service('upper')}"
    capsys.readouterr()

    note = tmp_path / "note.txt"
    note.write_text("sync call\n")
    assert run("invoke", *on, "-db", str(note), config=config) == 0
    assert capsys.readouterr().out == "SYNC CALL\n"  # /run/<service>, decoded from base64

    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("first\n")
    assert run("put", *on, "-p", str(folder), config=config) == 0
    assert "1 file(s) uploaded to minio" in capsys.readouterr().out
    (job,) = cluster.wait_for_jobs(deployed.split("/")[1])
    assert job.status == "Succeeded", job.logs

    assert run("logs", "-n", deployed, config=config) == 0
    logs = capsys.readouterr().out
    assert "Succeeded" in logs and "script exited with code 0" in logs

    into = tmp_path / "down"
    assert run("get", *on, "-p", str(into), config=config) == 0
    capsys.readouterr()
    assert (into / "a.txt").read_text() == "FIRST\n"  # out/a.txt: the script named it

    assert run("run", "-n", deployed, "-a", config=config) == 0
    assert "launched a job" in capsys.readouterr().out
    cluster.wait_for_jobs(deployed.split("/")[1], count=2)

    assert run("rm", "-n", deployed, config=config) == 0
    assert f"- delete  service  {deployed}" in capsys.readouterr().out
    assert cluster.services == {}
    assert run("rm", "-n", deployed, config=config) == 1


def test_chain_oscar_to_lambda_and_back_to_oscar(cluster: FakeOscar, tmp_path: Path,
                                                 unique_name: str, localstack: Any,
                                                 test_image_archives: dict[str, Path],
                                                 capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Three stages in a preview scope: an upload to service `first`'s MinIO input runs it on
    the stand-in; its S3 output triggers a Lambda function (run in LocalStack by the sandbox
    executor) whose `minio.<id>` output is service `last`'s input on the cluster's MinIO, so
    MinIO's notification runs `last` too. Every bucket carries the scope's name on both sides;
    each sink is created before its source; the scope alone tears it all down."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(test_image_archives["docker"], repo / "image.tar")
    (repo / "relay.sh").write_text(
        'sed "s/^/relayed: /" "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename '
        '"$INPUT_FILE_PATH")"\n')
    (repo / "done.sh").write_text(
        'sed "s/$/ [done]/" "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename '
        '"$INPUT_FILE_PATH")"\n')
    shared, back = f"{unique_name}-shared", f"{unique_name}-back"
    relay = zip_function(f"{unique_name}-relay", "relay.sh", f"{shared}/intermediate",
                         {"storage_provider": "minio.lab_minio", "path": f"{back}/in"})
    first = service("first", unique_name, output=[
        {"storage_provider": "s3.aws", "path": f"{shared}/intermediate"}])
    last = service("last", back, script="done.sh")
    fdl = write(repo, [first, last], functions=[relay], storage_providers={
        "s3": {"aws": {"access_key": "test", "secret_key": "test", "region": "us-east-1"}},
        "minio": {"lab_minio": {"endpoint": localstack.endpoint_url, "verify": False,
                                "access_key": "test", "secret_key": "test",
                                "region": "us-east-1"}}})
    scope = Scope.parse(f"manual:{unique_name}")
    config = tmp_path / "scar.cfg"
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    out = capsys.readouterr().out
    created = [line.split()[2:4] for line in out.splitlines() if line.startswith("  + create")]
    at = {f"{kind} {name}": i for i, (kind, name) in enumerate(created)}
    last_name, first_name = scope.oscar_service("last"), scope.oscar_service("first")
    function = scope.function_name(f"{unique_name}-relay")
    assert at[f"service {CLUSTER}/{last_name}"] < at[f"function {function}"]  # sink first
    assert at[f"function {function}"] < at[f"service {CLUSTER}/{first_name}"]
    assert cluster.services[last_name]["input"][0]["path"] == f"{scope.bucket(back)}/in"
    try:
        cluster.s3().put_object(Bucket=scope.bucket(unique_name), Key="in/frame.txt",
                                Body=b"a face\n")
        (job,) = cluster.wait_for_jobs(last_name, timeout=240)
        assert job.status == "Succeeded", job.logs
        body = cluster.s3().get_object(Bucket=scope.bucket(back), Key="out/frame.txt")
        # upper-cased on OSCAR, relayed by Lambda into MinIO, finished on OSCAR
        assert body["Body"].read() == b"relayed: A FACE [done]\n"
    finally:
        monkeypatch.chdir(tmp_path)  # no FDL: the scope and the configuration file alone
        assert run("teardown", "--scope", scope.stage, "--delete-data", config=config) == 0
    assert cluster.services == {}
    names = {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}
    assert not names & {scope.bucket(b) for b in (unique_name, shared, back)}
    functions = boto3.client("lambda").list_functions()["Functions"]
    assert function not in {f["FunctionName"] for f in functions}


def test_a_scope_of_services_keeps_its_creation_time_and_is_pruned_by_age(
        cluster: FakeOscar, tmp_path: Path, unique_name: str, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The `scar-ci/created` annotation of a scope's services is its age: kept on redeploy,
    taken by the AWS side when the FDL gains a Lambda function (its plan keeps the service),
    shown by `ls --all-scopes`, judged by `prune --older-than`, which tears the services down
    with nothing but the configuration file."""
    config, repo = tmp_path / "scar.cfg", tmp_path / "repo"
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write(repo, [service("upper", unique_name)])
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    name, old = scope.oscar_service("upper"), "2026-01-02T03:04:05Z"
    annotations = cluster.services[name]["annotations"]
    assert annotations["scar-ci/created"] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    annotations["scar-ci/created"] = old  # as if first deployed in January
    assert run("deploy", "-f", str(fdl), "--scope", scope.stage, config=config) == 0
    assert cluster.services[name]["annotations"]["scar-ci/created"] == old
    mixed = write(repo, [service("upper", unique_name)], functions=[zip_function(
        f"{unique_name}-fn", "upper.sh", f"{unique_name}-aws/in",
        {"storage_provider": "s3", "path": f"{unique_name}-aws/out"})])
    (repo / "image.tar").write_bytes(b"")  # the plan reads no image
    capsys.readouterr()
    assert run("plan", "-f", str(mixed), "--scope", scope.stage, config=config) == 0
    kept = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["=", "keep", "service", f"{CLUSTER}/{name}"] in [line[:4] for line in kept]

    monkeypatch.chdir(tmp_path)
    assert run("ls", "--all-scopes", "--json", config=config) == 0
    (listed,) = [s for s in json.loads(capsys.readouterr().out) if s["scope"] == scope.label]
    assert (listed["created"], listed["services"]) == (old, [f"{CLUSTER}/{name}"])
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    assert run("prune", "--older-than", "30d", "--json", config=config) == 0
    verdicts = json.loads(capsys.readouterr().out)["scopes"]
    (verdict,) = [v for v in verdicts if v["scope"] == scope.label]
    assert verdict["action"] == "remove" and verdict["why"].startswith("created ")
    assert name not in cluster.services
