"""Issue 13, hole 7: two runs of one scope at once end with exactly one of everything; a
crashed run's lease expires; duplicates left by earlier races are swept."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import boto3
import pytest
from deploy_helpers import deploy, function, teardown, verbs, write_fdl

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.deploy.lock import LEASE_S, ROOT, Holder, ScopeBusy
from scar_ci.scopes.scope import Scope
from scar_testbed.latency_proxy import latency_proxy

pytestmark = pytest.mark.integration


def apis_named(name: str) -> list[str]:
    return [api["id"] for api in boto3.client("apigateway").get_rest_apis(limit=500)["items"]
            if api["name"] == name]


def lock_parameters(scope: Scope) -> list[str]:
    answer = boto3.client("ssm").get_parameters_by_path(Path=f"{ROOT}/{scope.label}")
    return [p["Name"] for p in answer["Parameters"]]


def put_lock(scope: Scope, generation: int, expires: float) -> None:
    holder = Holder("GitHub Actions run 42 (attempt 1) of someone/else", "deploy",
                    expires - LEASE_S, expires)
    boto3.client("ssm").put_parameter(Name=f"{ROOT}/{scope.label}/{generation:010d}",
                                      Value=holder.to_json(), Type="String")


def test_two_concurrent_deploys_of_one_scope_end_with_one_of_everything(
        tmp_path, unique_name, localstack):
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [function("f", unique_name, api_gateway={"name": "f"})])
    command = [sys.executable, "-m", "scar_ci", "deploy", "-f", str(fdl), "--scope",
               f"manual:{unique_name}"]
    one_ended = threading.Event()

    def hold(operation: tuple[str, str]) -> None:
        """The lock holder's CreateFunction waits for the other run to end: on a loaded machine
        that run could otherwise start only once the first had finished, and deploy too."""
        if operation == ("lambda", "CreateFunction"):
            one_ended.wait(timeout=300)

    with latency_proxy(localstack.endpoint_url, hold=hold) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env) for _ in range(2)]
        for run in runs:
            threading.Thread(target=lambda run=run: (run.wait(), one_ended.set()),
                             daemon=True).start()
        results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    busy = [err for code, err in results if code == 1 and "is busy since" in err]
    assert sorted(code for code, _ in results) == [0, 1] and len(busy) == 1, results
    assert f"scope {scope.label} is busy since" in busy[0] and "(pid " in busy[0]
    assert "Traceback" not in busy[0]
    assert proxy.counts().requests[("lambda", "CreateFunction")] == 1
    assert len(apis_named(scope.api_name("f"))) == 1
    assert lock_parameters(scope) == []
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "0 to create, 0 to update, 0 to delete" in rerun.stdout
    teardown(scope)


def test_a_live_lease_refuses_and_an_expired_one_is_taken_over(tmp_path, unique_name,
                                                              localstack):
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [function("f", unique_name)])
    put_lock(scope, 7, time.time() + 120)
    aws = Aws()
    with pytest.raises(ScopeBusy, match=r"busy since .* by GitHub Actions run 42 \(attempt 1\)"
                                        r" of someone/else \(deploy\); its lease ends at"):
        deploy(fdl, scope, aws)
    assert aws.calls.calls == []  # refused before reading anything
    boto3.client("ssm").delete_parameter(Name=f"{ROOT}/{scope.label}/{7:010d}")
    put_lock(scope, 7, time.time() - 1)  # a run that crashed: its lease ran out
    deploy(fdl, scope)
    assert engine.discover(Aws(), scope) != []
    assert lock_parameters(scope) == []
    teardown(scope)


def test_a_duplicate_api_left_by_an_earlier_race_is_reported_and_swept(tmp_path, unique_name,
                                                                      localstack):
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [function("f", unique_name, api_gateway={"name": "f"})])
    deploy(fdl, scope)
    name = scope.api_name("f")
    [kept] = apis_named(name)
    client = boto3.client("apigateway")
    tags = client.get_rest_api(restApiId=kept)["tags"]
    duplicate = client.create_rest_api(name=name, tags=tags)["id"]
    plan, _ = deploy(fdl, scope)
    deletes = [c for c in plan.changes if c.verb.value == "delete"]
    assert [(c.kind, c.name) for c in deletes] == [("api", name)]
    assert "duplicate of API" in deletes[0].detail
    assert len(apis_named(name)) == 1 and (kept in apis_named(name)) != (
        duplicate in apis_named(name))
    assert ("keep", "api", name) in verbs(plan)
    teardown(scope)
    assert apis_named(name) == []
