"""`scar-ci rm`: one function, the functions of an FDL, or a whole scope, against LocalStack."""

from __future__ import annotations

import pytest
from command_helpers import scar
from deploy_helpers import deploy, function, write_fdl

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.scopes.scope import Scope

pytestmark = pytest.mark.integration


def live(scope: Scope) -> set[tuple[str, str]]:
    return {(r.kind, r.name) for r in engine.discover(Aws(), scope)}


def test_rm_one_function_then_the_fdl_then_the_scope(tmp_path, localstack, unique_name, capsys):
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = write_fdl(tmp_path, [
        function("one", unique_name, outputs="middle"),
        function("two", unique_name, inputs="middle", api_gateway={"name": "two"}),
        function("three", f"{unique_name}-x"),
    ])
    deploy(fdl, scope)
    one, two, three = (scope.function_name(n) for n in ("one", "two", "three"))
    bucket = scope.bucket(unique_name)
    before = live(scope)
    assert {("api", two), ("function", two), ("log group", f"/aws/lambda/{two}"),
            ("trigger", f"{bucket}/middle -> {two}")} <= before

    code, out, err = scar(capsys, "rm", "-n", two)  # the deployed name: its tags give the scope
    assert code == 0, err
    assert "buckets are kept" in out
    assert before - live(scope) == {
        ("api", two), ("function", two), ("log group", f"/aws/lambda/{two}"),
        ("trigger", f"{bucket}/middle -> {two}"), ("role", scope.role_name("scar-ci-two"))}
    assert ("function", one) in live(scope) and ("bucket", bucket) in live(scope)

    code, _, err = scar(capsys, "rm", "-f", str(fdl), "--scope", scope.stage, "-n", "one")
    assert code == 0, err
    assert ("function", one) not in live(scope) and ("function", three) in live(scope)

    code, _, err = scar(capsys, "rm", "-n", one)
    assert code == 1 and f"no function {one} deployed by scar-ci" in err

    code, _, err = scar(capsys, "rm", "--scope", scope.stage, "--delete-data")
    assert code == 0, err
    assert live(scope) == set()


def test_rm_of_an_fdl_defaults_to_production_only_outside_actions(tmp_path, localstack,
                                                                   monkeypatch, capsys):
    """In a workflow the default scope is the context's: production is removed only when
    named. At a terminal `rm -f FDL` does what SCAR's does (the FDL names the functions)."""
    for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    fdl = write_fdl(tmp_path, [function("one", "scar-t-never")])
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, _, err = scar(capsys, "rm", "-f", str(fdl))
    assert code == 2 and "--scope production" in err
    monkeypatch.delenv("GITHUB_ACTIONS")
    code, _, err = scar(capsys, "rm", "-f", str(fdl))
    assert code == 1 and "nothing of one found in production" in err
