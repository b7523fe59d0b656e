"""Converge, don't assume: a deploy or teardown that fails at any mutating step is finished
by the next run; an invalid FDL makes no AWS call at all."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from deploy_helpers import LAB_MINIO, deploy, function, teardown, verbs, write_fdl

from scar_ci import cli
from scar_ci.aws.session import READ_PREFIXES, Aws
from scar_ci.deploy import engine
from scar_ci.deploy.apply import ApplyFailed
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_SCOPE

pytestmark = pytest.mark.integration


class FaultAt:
    """A botocore before-call hook that fails the `n`-th mutating call (with `operation`, the
    first call of that operation), like AWS would; the apply's calls run side by side."""

    def __init__(self, n: int, operation: str = "") -> None:
        self.n, self.seen, self.wanted = n, 0, operation
        self.operation = ""
        self._lock = threading.Lock()

    def __call__(self, model, **_):
        if model.name.startswith(READ_PREFIXES):
            return
        with self._lock:
            self.seen += 1
            hit = (model.name == self.wanted if self.wanted else self.seen == self.n) and (
                not self.operation)
            if hit:
                self.operation = model.name
        if hit:
            raise ClientError({"Error": {"Code": "InjectedFault", "Message": "injected"}},
                              model.name)


class FaultAfter(FaultAt):
    """Fails the mutating call that follows the first `operation` on the thread that made it
    (the apply's other calls run side by side on other threads)."""

    def __init__(self, operation: str) -> None:
        super().__init__(0)
        self.after = operation
        self.thread: int | None = None

    def __call__(self, model, **_):
        if model.name.startswith(READ_PREFIXES):
            return
        with self._lock:
            if self.thread is None:
                if model.name == self.after:
                    self.thread = threading.get_ident()
                return
            hit = self.thread == threading.get_ident() and not self.operation
            if hit:
                self.operation = model.name
        if hit:
            raise ClientError({"Error": {"Code": "InjectedFault", "Message": "injected"}},
                              model.name)


def mutating_steps(fdl, scope) -> list[str]:
    """The mutating operations of a fresh deploy, in order (first occurrence of each)."""
    _, aws = deploy(fdl, scope)
    teardown(scope)
    return [op for _, op in aws.calls.mutating]


def fail_then_converge(fdl, scope: Scope, operation: str) -> tuple[str, str, list]:
    """Deploy with a fault at the first `operation` call, rerun, then redeploy and tear down;
    returns the failed operation, the error text and the mutating calls of the redeploy."""
    fault = FaultAt(0, operation)
    aws = Aws()
    aws.add_hook(fault)
    try:
        deploy(fdl, scope, aws)
        message = "no failure"
    except ApplyFailed as error:
        message = str(error)
    deploy(fdl, scope)
    _, again = deploy(fdl, scope)
    teardown(scope)
    return fault.operation, message, again.calls.mutating


def test_a_deploy_failing_at_any_step_is_finished_by_the_next_run(tmp_path, unique_name,
                                                                   localstack):
    outputs = [{"storage_provider": "s3", "path": f"{unique_name}/output"},
               {"storage_provider": "minio.lab", "path": "results"}]  # keys: a secret too

    def fdl_of(case: str) -> Path:
        """The FDL with a supervisor layer of the case's own. The layer is shared by scopes
        and outlives teardowns: with the default one, whether a deploy publishes it (and so
        whether a fault at PublishLayerVersion can hit) would depend on the tests before."""
        return write_fdl(tmp_path / case, [function(
            "f", unique_name, api_gateway={"name": "f"}, lambda_settings={
                "output": outputs, "supervisor": {"layer_name": f"{unique_name}-{case}"}})],
            LAB_MINIO)

    operations = mutating_steps(fdl_of("probe"), Scope.parse(f"manual:{unique_name}-probe"))
    # one fault per kind of step (its first occurrence) keeps the test short
    steps = sorted({op: i + 1 for i, op in reversed(list(enumerate(operations)))}.values())
    assert len(steps) >= 10 and {"PutParameter", "PublishLayerVersion"} <= set(operations)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = pool.map(lambda n: fail_then_converge(
            fdl_of(str(n)), Scope.parse(f"manual:{unique_name}-{n}"), operations[n - 1]), steps)
        for n, (operation, message, mutating) in zip(steps, outcomes, strict=True):
            assert operation == operations[n - 1]
            assert "run `scar-ci deploy` again" in message, message
            assert mutating == [], f"not converged after a fault at {operation}"


def test_a_teardown_failing_halfway_is_finished_by_the_next_run(tmp_path, unique_name,
                                                                localstack):
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [function("f", unique_name, api_gateway={"name": "f"})])
    deploy(fdl, scope)
    aws = Aws()
    aws.add_hook(FaultAt(4))
    with pytest.raises(ApplyFailed, match="teardown stopped"):
        teardown(scope, aws)
    assert engine.discover(Aws(), scope) != []
    teardown(scope)
    assert engine.discover(Aws(), scope) == []


def tags_of(bucket: str) -> dict[str, str]:
    try:
        answer = boto3.client("s3").get_bucket_tagging(Bucket=bucket)
    except ClientError:
        return {}
    return {t["Key"]: t["Value"] for t in answer["TagSet"]}


def test_a_fault_right_after_create_bucket_leaves_a_bucket_the_next_run_owns(
        tmp_path, unique_name, localstack):
    """Issue 13, hole 6: the bucket carries its tags from the CreateBucket call itself."""
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [function("f", unique_name)])
    fault = FaultAfter("CreateBucket")
    aws = Aws()
    aws.add_hook(fault)
    with pytest.raises(ApplyFailed):
        deploy(fdl, scope, aws)
    assert fault.operation == "PutBucketTagging"
    bucket = scope.bucket(unique_name)
    assert tags_of(bucket)[TAG_SCOPE] == scope.label
    deploy(fdl, scope)
    teardown(scope)
    assert bucket not in {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}


def test_a_scoped_bucket_an_earlier_run_left_untagged_is_finished_then_torn_down(
        tmp_path, unique_name, localstack):
    """What a crash between CreateBucket and its tagging left before tags came with the
    CreateBucket call (or with an S3 API that ignores them): the scoped name, this account's,
    nothing but folder markers."""
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [function("f", unique_name)])
    bucket = scope.bucket(unique_name)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="input/", Body=b"")
    plan, _ = deploy(fdl, scope)
    assert ("update", "bucket", bucket) in verbs(plan)
    assert tags_of(bucket)[TAG_SCOPE] == scope.label
    teardown(scope)
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_untagged_buckets_with_data_or_the_fdl_s_own_names_stay_someone_else_s(
        tmp_path, unique_name, localstack):
    s3 = boto3.client("s3")
    scope = Scope.parse(f"manual:{unique_name}")
    scoped = scope.bucket(unique_name)
    s3.create_bucket(Bucket=scoped)
    s3.put_object(Bucket=scoped, Key="input/theirs.txt", Body=b"data")
    production = f"{unique_name}-prod"
    s3.create_bucket(Bucket=production)
    plans = [deploy(write_fdl(tmp_path / "a", [function("f", unique_name)]), scope)[0],
             deploy(write_fdl(tmp_path / "b", [function("g", production)]),
                    Scope.production())[0]]
    for plan, bucket in zip(plans, (scoped, production), strict=True):
        assert ("keep", "bucket", bucket) in verbs(plan) and tags_of(bucket) == {}
    teardown(scope)
    teardown(Scope.production())
    assert {scoped, production} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}


@pytest.fixture
def counting_endpoint(monkeypatch):
    """An endpoint that counts requests and refuses them all: any AWS call would reach it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[int] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(1)
            with conn:
                conn.settimeout(2)
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    yield accepted
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("verb", ["plan", "deploy"])
def test_an_invalid_fdl_exits_2_without_any_aws_call(tmp_path, verb, counting_endpoint, capsys):
    fdl = tmp_path / "scar.yaml"
    fdl.write_text("functions:\n  aws:\n  - lambda:\n      name: f\n      memroy: 99999\n")
    assert cli.main([verb, "-f", str(fdl), "--scope", "pr-1"]) == 2
    err = capsys.readouterr().err
    assert "memroy" in err
    assert "Traceback" not in err
    assert counting_endpoint == []


def test_the_counting_endpoint_does_see_calls(tmp_path, counting_endpoint, capsys):
    """The check above can fail: a valid FDL does reach the endpoint (and fails cleanly)."""
    fdl = write_fdl(tmp_path, [function("f", "some-bucket")])
    assert cli.main(["plan", "-f", str(fdl), "--scope", "pr-1"]) == 1
    assert "scar-ci:" in capsys.readouterr().err
    assert counting_endpoint != []
