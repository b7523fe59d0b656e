"""pytest fixtures: moto's server for ECR and Batch, found by boto3 through
`AWS_ENDPOINT_URL_ECR` / `AWS_ENDPOINT_URL_BATCH` as the product will find it; and an
ECR-like registry whose login is the one moto's `get_authorization_token` hands out."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from scar_testbed.moto_server import endpoint_variables, start_moto
from scar_testbed.registry import Credentials, Registry, start_registry
from scar_testbed.service_process import ServiceProcess

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A `moto_server` on a free 127.0.0.1 port for the session (`.url`), stopped afterwards."""
    server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto_aws(
    moto_server: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], Any]:
    """Point boto3's ECR and Batch at moto (endpoint variables; test credentials and region
    where none are set, e.g. by the LocalStack fixtures) and return `client(service_name)`
    -> a plain boto3 client."""
    for name, value in endpoint_variables(moto_server.url).items():
        monkeypatch.setenv(name, value)
    for name, value in TEST_CREDENTIALS.items():
        if not os.environ.get(name):
            monkeypatch.setenv(name, value)

    def client(service_name: str) -> Any:
        return boto3.session.Session().client(service_name)

    return client


def ecr_login(ecr: Any) -> Credentials:
    """The registry login in ECR's `get_authorization_token` answer (`AWS` and a token)."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    username, _, password = base64.b64decode(token).decode().partition(":")
    return Credentials(username, password)


@pytest.fixture(scope="session")
def ecr_registry(
    moto_server: ServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """A basic-auth registry accepting exactly the login moto's ECR hands out, so a push can
    go ECR API (moto) -> token -> image bytes (this registry)."""
    ecr = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
        region_name="us-east-1",
    ).client("ecr", endpoint_url=moto_server.url)
    registry = start_registry(tmp_path_factory.mktemp("ecr-registry"), ecr_login(ecr))
    try:
        yield registry
    finally:
        registry.stop()
