"""The OSCAR stand-in, driven only through oscar-python (scar-ci's client wrapper): it follows
OSCAR's API and really runs each service's script in its image on an input from its MinIO."""

from __future__ import annotations

import base64
import json

import pytest

from scar_ci.oscar.access import ClusterAccess
from scar_ci.oscar.client import OscarCluster, OscarFailure
from scar_testbed.fake_oscar import PASSWORD, USER, FakeOscar
from scar_testbed.lambda_functions import eventually
from scar_testbed.oidc_issuer import OidcIssuer

SCRIPT = """#!/bin/sh
echo "got $(basename "$INPUT_FILE_PATH") key=$STORAGE_OBJECT_KEY greeting=$GREETING"
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").upper"
"""


def _cluster(fake: FakeOscar, password: str = PASSWORD) -> OscarCluster:
    return OscarCluster(ClusterAccess("test", fake.url, USER, password, ssl_verify=False))


def _service(name: str) -> dict[str, object]:
    return {"name": name, "image": "scar-test/busybox:1", "script": SCRIPT,
            "memory": "256Mi", "cpu": "0.5",
            "environment": {"variables": {"GREETING": "hola"}},
            "input": [{"storage_provider": "minio", "path": f"{name}/in"}],
            "output": [{"storage_provider": "minio", "path": f"{name}/out"}],
            "labels": {"scar-ci/managed": "true"}}


def test_service_crud_and_runs(fake_oscar: FakeOscar, unique_name: str) -> None:
    cluster = _cluster(fake_oscar)
    assert cluster.info()["version"] == "stand-in"
    cluster.create_service(_service(unique_name))
    live = cluster.get_service(unique_name)
    assert live and live["labels"]["scar-ci/managed"] == "true" and live["token"]
    assert [s["name"] for s in cluster.list_services()] == [unique_name]

    answer = cluster.run(unique_name, b"hello oscar")
    assert base64.b64decode(answer.body) == b"HELLO OSCAR"
    s3 = fake_oscar.s3()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=unique_name, Prefix="out/")["Contents"]]
    assert keys == ["out/event-file.upper"]

    cluster.upload(unique_name, "minio", _file(fake_oscar, "note.txt", b"from minio"),
                   f"{unique_name}/in")
    job = fake_oscar.wait_for_jobs(unique_name)[0]
    assert job.status == "Succeeded", job.logs
    # delivered as MinIO's webhook delivers it: POST /job/<service> with the service's token
    assert ("POST", f"/job/{unique_name}", 201) in fake_oscar.calls
    jobs = cluster.jobs(unique_name)
    (job_name,) = jobs
    logs = cluster.job_logs(unique_name, job_name)
    assert "got note.txt key=in/note.txt greeting=hola" in logs
    got = cluster.download(unique_name, "minio", f"{unique_name}/out/note.txt.upper",
                           fake_oscar.workdir)
    assert got.read_bytes() == b"FROM MINIO"

    cluster.run(unique_name, b"async", asynchronous=True)
    eventually(lambda: len(cluster.jobs(unique_name)) == 2, "a second job")
    fake_oscar.wait_for_jobs(unique_name, count=2)

    updated = {**_service(unique_name), "memory": "512Mi"}
    cluster.update_service(updated)
    assert cluster.get_service(unique_name)["memory"] == "512Mi"
    cluster.remove_service(unique_name)
    assert cluster.get_service(unique_name) is None
    cluster.remove_service(unique_name)  # already gone: no error


def test_wrong_password_is_one_clear_error(fake_oscar: FakeOscar) -> None:
    with pytest.raises(OscarFailure, match=r"refused the credentials \(401\)") as caught:
        _cluster(fake_oscar, "wrong").list_services()
    assert "wrong" not in str(caught.value)


def test_invalid_definition_is_refused(fake_oscar: FakeOscar, unique_name: str) -> None:
    bad = {**_service(unique_name), "labels": {"scar-ci/source": "owner/repo"}}
    with pytest.raises(OscarFailure, match="not a valid Kubernetes label"):
        _cluster(fake_oscar).create_service(bad)
    s3_input = {**_service(unique_name), "input": [{"storage_provider": "s3.aws",
                                                    "path": f"{unique_name}/in"}]}
    with pytest.raises(OscarFailure, match=r"unrecognized input \(valid inputs are MinIO"):
        _cluster(fake_oscar).create_service(s3_input)  # OSCAR's inputs: MinIO (and dCache)
    assert json.dumps(fake_oscar.services) == "{}"


def _file(fake: FakeOscar, name: str, data: bytes):
    path = fake.workdir / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_an_oidc_access_token_instead_of_basic_auth(fake_oscar: FakeOscar,
                                                    unique_name: str) -> None:
    """OSCAR takes an EGI Check-in access token as a bearer, on its API and on /run."""
    fake_oscar.oidc_tokens.add("eyJ.valid.token")
    cluster = OscarCluster(ClusterAccess("test", fake_oscar.url, oidc_token="eyJ.valid.token"))
    cluster.create_service(_service(unique_name))
    assert base64.b64decode(cluster.run(unique_name, b"by token").body) == b"BY TOKEN"
    wrong = OscarCluster(ClusterAccess("test", fake_oscar.url, oidc_token="eyJ.other.token"))
    with pytest.raises(OscarFailure, match=r"\(401\) .*check the OIDC access token"):
        wrong.list_services()
    cluster.remove_service(unique_name)


def test_a_refresh_token_is_exchanged_at_the_token_endpoint(
        fake_oscar: FakeOscar, oidc_issuer: OidcIssuer, unique_name: str) -> None:
    """oscar-python's refresh: no access token (or an expired one) and a refresh token: it
    asks the token endpoint for an access token and sends that as the bearer."""
    refresh = oidc_issuer.grant("scar-ci-client")
    oidc = {"token_endpoint": oidc_issuer.url, "client_id": "scar-ci-client",
            "scopes": ("openid", "eduperson_entitlement")}
    cluster = OscarCluster(ClusterAccess("test", fake_oscar.url, refresh_token=refresh,
                                         oidc=oidc))
    cluster.create_service(_service(unique_name))
    assert [s["name"] for s in cluster.list_services()] == [unique_name]
    assert oidc_issuer.asked == [{"grant_type": "refresh_token", "client_id": "scar-ci-client",
                                  "scope": "openid eduperson_entitlement"}]  # once, then kept
    expired = oidc_issuer.access_token(lifetime_s=-60)
    again = OscarCluster(ClusterAccess("test", fake_oscar.url, oidc_token=expired,
                                       refresh_token=refresh, oidc=oidc))
    assert again.get_service(unique_name) is not None and len(oidc_issuer.asked) == 2
    cluster.remove_service(unique_name)

    wrong = OscarCluster(ClusterAccess("test", fake_oscar.url, refresh_token="rt-stolen",
                                       oidc=oidc))
    with pytest.raises(OscarFailure, match=r"token endpoint .* refused the refresh token "
                                           r"\(client_id scar-ci-client\)") as caught:
        wrong.list_services()
    assert "rt-stolen" not in str(caught.value)
    gone = OscarCluster(ClusterAccess("test", fake_oscar.url, refresh_token=refresh, oidc={
        **oidc, "token_endpoint": "http://127.0.0.1:9/token"}))
    with pytest.raises(OscarFailure, match="cannot reach the token endpoint "
                                           r"http://127.0.0.1:9/token"):
        gone.list_services()
