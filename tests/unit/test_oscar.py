"""The OSCAR room without a cluster: access settings, names, marks, desired definitions."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from scar_ci.aws.session import Account
from scar_ci.cli import main
from scar_ci.deploy.desired import desired_state
from scar_ci.deploy.plan import ordered
from scar_ci.fdl import load_fdl
from scar_ci.oscar.access import OscarConfigError, clusters, secrets_given
from scar_ci.oscar.clusters import Oscar
from scar_ci.oscar.desired import after_services
from scar_ci.oscar.service import from_marks, settings_of, to_marks
from scar_ci.scopes.scope import Scope
from scar_ci.supervisor.config import CONFIG_FILE_NAME


@pytest.fixture(autouse=True)
def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def fdl_file(services: list[dict], functions: list | None = None, **rest: object) -> Path:
    Path("run.sh").write_text("echo\n")
    body: dict = {"functions": {"oscar": services, **({"aws": functions} if functions else {})},
                  **rest}
    Path("scar.yaml").write_text(yaml.safe_dump(body))
    return Path("scar.yaml")


def svc(name: str = "anon", **settings: object) -> dict:
    return {"lab": {"name": name, "image": "grycap/blurry-faces", "script": "run.sh",
                    **settings}}


def test_access_precedence_environment_fdl_configuration() -> None:
    fdl = load_fdl(fdl_file([svc(endpoint="https://fdl.example", auth_user="fdl-user",
                                 auth_password="fdl-pass")]))
    config = {"lab": {"endpoint": "https://cfg.example", "auth_user": "u", "auth_password": "p",
                      "ssl_verify": False}, "other": {"endpoint": "", "auth_user": ""}}
    (lab,) = clusters(fdl, config, {"SCAR_CI_OSCAR_LAB_AUTH_PASSWORD": "env-pass"}).values()
    assert (lab.endpoint, lab.auth_user, lab.auth_password, lab.ssl_verify) == (
        "https://fdl.example", "fdl-user", "env-pass", False)  # SCAR's empty template: ignored
    assert "env-pass" not in repr(lab) and "fdl-pass" not in repr(lab)
    assert set(secrets_given(fdl, config, {"SCAR_CI_OSCAR_LAB_AUTH_PASSWORD": "env-pass"})) == {
        "fdl-pass", "p", "env-pass"}


def test_a_token_instead_of_a_password() -> None:
    fdl = load_fdl(fdl_file([svc(endpoint="https://o.example")]))
    (lab,) = clusters(fdl, {}, {"SCAR_CI_OSCAR_LAB_OIDC_TOKEN": "eyJ.t.s"}).values()
    assert lab.client_options() == {"cluster_id": "lab", "endpoint": "https://o.example",
                                    "ssl": True, "oidc_token": "eyJ.t.s"}


def test_a_refresh_token_and_its_endpoint() -> None:
    """The environment's refresh token with the configuration's endpoint, client and scopes
    (SCAR_CI_OSCAR_LAB_SCOPES space-separated); the refresh token is a secret to mask."""
    fdl = load_fdl(fdl_file([svc(endpoint="https://o.example")]))
    config = {"lab": {"token_endpoint": "https://aai.example/token", "client_id": "ci"}}
    env = {"SCAR_CI_OSCAR_LAB_REFRESH_TOKEN": "rt-secret",
           "SCAR_CI_OSCAR_LAB_SCOPES": "openid  eduperson_entitlement"}
    (lab,) = clusters(fdl, config, env).values()
    assert lab.client_options() == {
        "cluster_id": "lab", "endpoint": "https://o.example", "ssl": True, "oidc_token": None,
        "refresh_token": "rt-secret", "token_endpoint": "https://aai.example/token",
        "client_id": "ci", "scopes": ["openid", "eduperson_entitlement"]}
    assert "rt-secret" not in repr(lab) and secrets_given(fdl, config, env) == ["rt-secret"]
    with pytest.raises(OscarConfigError, match=r"token_endpoint 'aai\.example' is not an http"):
        clusters(fdl, {"lab": {"token_endpoint": "aai.example"}}, env)


def test_the_config_file_takes_the_oidc_keys(capsys: pytest.CaptureFixture) -> None:
    fdl_file([svc(endpoint="https://o.example")])
    Path("scar.cfg").write_text(json.dumps({"oscar": {"lab": {
        "refresh_token": "rt", "token_endpoint": "https://aai.example/token",
        "client_id": "ci", "scopes": ["openid"]}}}))
    assert main(["validate", "-f", "scar.yaml", "-c", "scar.cfg"]) == 0
    Path("scar.cfg").write_text(json.dumps({"oscar": {"lab": {"scopes": "openid"}}}))
    assert main(["validate", "-f", "scar.yaml", "-c", "scar.cfg"]) == 2
    assert "scopes" in capsys.readouterr().err


@pytest.mark.parametrize(("settings", "message"), [
    ({}, "has no endpoint: set endpoint in the service item, oscar.lab.endpoint"),
    ({"endpoint": "ftp://x"}, "is not an http(s) URL"),
    ({"endpoint": "https://o.example"}, "no credentials; give auth_user and auth_password"),
])
def test_a_cluster_in_use_without_access_is_refused(settings: dict, message: str) -> None:
    fdl = load_fdl(fdl_file([svc(**settings)]))
    with pytest.raises(OscarConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        clusters(fdl, {}, {})


def test_two_services_disagreeing_on_an_endpoint() -> None:
    fdl = load_fdl(fdl_file([svc("a", endpoint="https://one"), svc("b", endpoint="https://two")]))
    with pytest.raises(OscarConfigError, match=r"scar.yaml:\d+: service b gives cluster 'lab'"):
        clusters(fdl, {}, {})


def test_marks_are_kubernetes_labels_and_annotations() -> None:
    tags = Scope.pull_request(7, source="grycap/scar-action").tags(fdl_function="anon")
    labels, annotations = to_marks(tags)
    assert labels == {"scar-ci/managed": "true", "scar-ci/scope": "pr-7", "scar-ci/kind": "pr"}
    assert annotations["scar-ci/source"] == "grycap/scar-action"
    live = {"labels": {**labels, "oscar_service": "x"}, "annotations": annotations}
    assert from_marks(live) == tags


def test_desired_definition_in_a_preview() -> None:
    """Names and buckets scoped; an S3 path on a bucket the Lambda functions use is scoped the
    same way (the chain holds); other providers' paths and the defaults as SCAR's."""
    lam = {"lambda": {"name": "detect", "init_script": "run.sh",
                      "container": {"image": "grycap/mask"},
                      "input": [{"storage_provider": "s3", "path": "masks/intermediate"}]}}
    fdl = load_fdl(fdl_file([svc(
        endpoint="https://o", auth_user="u", auth_password="p",
        environment={"Variables": {"ON": True}},
        input=[{"storage_provider": "minio", "path": "anon/in"}],
        output=[{"storage_provider": "s3.aws", "path": "masks/intermediate"},
                {"storage_provider": "minio.lab", "path": "theirs/out"}])], [lam],
        storage_providers={"s3": {"aws": {"access_key": "a", "secret_key": "s3cr3t-aws",
                                          "region": "us-east-1"}},
                           "minio": {"lab": {"endpoint": "https://m", "access_key": "a",
                                             "secret_key": "s"}}}))
    scope = Scope.pull_request(7)
    (service,) = Oscar.of(fdl, {"lab": {"memory": "1Gi"}}, {}).desired(fdl, scope)
    body = service.body()
    assert service.name == "lab/anon--pr-7" and body["name"] == "anon--pr-7"
    assert (body["memory"], body["cpu"], body["log_level"]) == ("1Gi", "0.2", "INFO")
    assert body["script"] == "echo\n"
    assert body["environment"] == {"variables": {"ON": "true"}}
    assert body["input"] == [{"storage_provider": "minio", "path": "anon--pr-7/in"}]
    assert [o["path"] for o in body["output"]] == ["masks--pr-7/intermediate", "theirs/out"]
    assert set(body["storage_providers"]) == {"s3", "minio"}
    assert body["labels"]["scar-ci/scope"] == "pr-7"
    wanted = service.wanted()  # what a plan may show: the credentials only as a digest
    assert wanted["storage"].startswith("sha256:") and "s3cr3t" not in repr(wanted)


def test_live_settings_compare_with_oscar_normalised_paths() -> None:
    sent = {"name": "anon", "image": "i", "script": "x", "memory": "256Mi", "cpu": "0.2",
            "input": [{"storage_provider": "minio", "path": "/in/"}]}
    stored = {**sent, "input": [{"storage_provider": "minio", "path": "anon/in",
                                 "prefix": [], "suffix": []}], "token": "t",
              "labels": {"oscar_service": "anon"}, "environment": {"variables": {}}}
    assert settings_of(sent) == settings_of(stored)


def test_validate_counts_services(capsys: pytest.CaptureFixture) -> None:
    fdl_file([svc(), svc("spare")])
    assert main(["validate", "-f", "scar.yaml"]) == 0
    assert capsys.readouterr().out == (
        "scar.yaml: valid, 0 functions (none), 2 OSCAR services (lab/anon, lab/spare)\n")


def test_config_file_oscar_section_is_validated(capsys: pytest.CaptureFixture) -> None:
    fdl_file([svc()])
    Path("scar.cfg").write_text(json.dumps({"oscar": {"lab": {"endpiont": "https://o"}}}))
    assert main(["validate", "-f", "scar.yaml", "-c", "scar.cfg"]) == 2
    assert "scar.cfg:1:" in capsys.readouterr().err


def test_an_unreachable_cluster_is_one_message_without_secrets() -> None:
    from scar_ci.oscar.access import ClusterAccess
    from scar_ci.oscar.client import OscarCluster, OscarFailure

    cluster = OscarCluster(ClusterAccess("lab", "http://127.0.0.1:9", "u", "pa55-secret",
                                         origin="scar.yaml:3"))
    with pytest.raises(OscarFailure) as caught:
        cluster.list_services()
    message = str(caught.value)
    assert message.startswith("cannot reach OSCAR cluster 'lab' at http://127.0.0.1:9 to list")
    assert "scar.yaml:3" in message and "pa55-secret" not in message


def test_a_cluster_the_environment_alone_names() -> None:
    """`teardown --scope S` with no FDL and no configuration file, only a CI job's secrets."""
    environ = {"SCAR_CI_OSCAR_MY_OSCAR_ENDPOINT": "https://o.example",
               "SCAR_CI_OSCAR_MY_OSCAR_AUTH_USER": "u", "SCAR_CI_OSCAR_MY_OSCAR_AUTH_PASSWORD": "p"}
    (found,) = clusters(None, {}, environ).values()
    assert (found.cluster_id, found.endpoint, found.auth_user) == ("my_oscar",
                                                                  "https://o.example", "u")
    config = {"My_Oscar": {"endpoint": "https://cfg"}}
    assert list(clusters(None, config, environ)) == ["My_Oscar"]  # the same cluster, once


def test_a_service_depends_on_the_bucket_and_trigger_it_feeds() -> None:
    lam = {"lambda": {"name": "detect", "init_script": "run.sh",
                      "container": {"image": "grycap/mask"},
                      "input": [{"storage_provider": "s3", "path": "masks/intermediate"}]}}
    fdl = load_fdl(fdl_file([svc(endpoint="https://o", auth_user="u", auth_password="p", output=[
        {"storage_provider": "s3.aws", "path": "masks/intermediate"}])], [lam],
        storage_providers={"s3": {"aws": {"access_key": "a", "secret_key": "s"}}}))
    (service,) = Oscar.of(fdl, {}, {}).desired(fdl, Scope.pull_request(7))
    assert service.depends_on() == (
        ("bucket", "masks--pr-7"), ("trigger", "masks--pr-7/intermediate -> detect--pr-7"))


def _function_config(function: Any) -> dict:
    with zipfile.ZipFile(io.BytesIO(function.code)) as package:
        return json.loads(package.read(CONFIG_FILE_NAME))


def test_a_lambda_writing_to_a_services_minio_input_is_scoped_and_waits_for_it() -> None:
    """Lambda -> MinIO -> OSCAR: the function's `minio.<id>` output into a service's input
    bucket gets the scope's bucket name the service gets, and the function is created after
    the service (which creates the bucket); a MinIO bucket no service uses keeps its name."""
    lam = {"lambda": {"name": "prep", "init_script": "run.sh",
                      "container": {"image": "grycap/mask"},
                      "input": [{"storage_provider": "s3", "path": "frames/in"}],
                      "output": [{"storage_provider": "minio.lab", "path": "anon/in"},
                                 {"storage_provider": "minio.lab", "path": "theirs/out"}]}}
    fdl = load_fdl(fdl_file([svc(
        endpoint="https://o", auth_user="u", auth_password="p",
        input=[{"storage_provider": "minio", "path": "anon/in"}],
        output=[{"storage_provider": "minio", "path": "anon/out"}])], [lam],
        storage_providers={"minio": {"lab": {"endpoint": "https://m", "access_key": "a",
                                             "secret_key": "s"}}}))
    scope = Scope.pull_request(7)
    desired = desired_state(fdl, scope, Account("us-east-1", "123456789012"),
                            (lambda: b"layer", "ab" * 32))
    (service,) = Oscar.of(fdl, {}, {}).desired(fdl, scope)
    desired.resources.append(service)
    after_services(desired.resources, fdl, scope)
    (function,) = [r for r in desired.resources if r.kind == "function"]
    outputs = [o["path"] for o in _function_config(function)["output"]]
    assert outputs == ["anon--pr-7/in", "theirs/out"]
    assert service.body()["input"][0]["path"] == "anon--pr-7/in"
    assert ("service", "lab/anon--pr-7") in function.depends_on()
    kinds = [r.kind for r in ordered(desired.resources)]
    assert kinds.index("service") < kinds.index("function")


def test_a_loop_through_a_service_is_left_unordered() -> None:
    """A function feeding a service that feeds the function's own trigger: no cycle."""
    lam = {"lambda": {"name": "prep", "init_script": "run.sh",
                      "container": {"image": "grycap/mask"},
                      "input": [{"storage_provider": "s3", "path": "frames/in"}],
                      "output": [{"storage_provider": "minio.lab", "path": "anon/in"}]}}
    fdl = load_fdl(fdl_file([svc(
        endpoint="https://o", auth_user="u", auth_password="p",
        input=[{"storage_provider": "minio", "path": "anon/in"}],
        output=[{"storage_provider": "s3.aws", "path": "frames/in"}])], [lam],
        storage_providers={"minio": {"lab": {"endpoint": "https://m", "access_key": "a",
                                             "secret_key": "s"}},
                           "s3": {"aws": {"access_key": "a", "secret_key": "s"}}}))
    scope = Scope.pull_request(7)
    desired = desired_state(fdl, scope, Account("us-east-1", "123456789012"),
                            (lambda: b"layer", "ab" * 32))
    desired.resources.extend(Oscar.of(fdl, {}, {}).desired(fdl, scope))
    after_services(desired.resources, fdl, scope)
    kinds = [r.kind for r in ordered(desired.resources)]
    assert kinds.index("trigger") < kinds.index("service")
