"""pytest fixtures: LocalStack on the host, with Lambda functions that really run.

`localstack` (session) reuses a running LocalStack ($SCAR_TESTBED_LOCALSTACK_URL, or the one
`localstack_ctl.py start` left in its state folder) or starts its own and stops it at the end.
For the whole session it points boto3 at it the standard way (AWS_ENDPOINT_URL, test
credentials, us-east-1), so code under test needs no special path, and gives supervisor layers
the udocker engines local mode uses (the machine's fakechroot and patchelf, for F1 in the
executor's sandbox) unless SCAR_UDOCKER_ENGINE_DIR names others. `unique_name` isolates tests.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from pytest_localstack.session import RunningSession

from scar_ci.local.engines import machine_engines
from scar_ci.package.engines import ENGINE_ENV
from scar_testbed import localstack_ctl
from scar_testbed.iam_gateway import IamGateway, iam_gateway
from scar_testbed.service_process import ServiceProcess

URL_VARIABLE = "SCAR_TESTBED_LOCALSTACK_URL"
REGION = "us-east-1"
SERVICES = ("s3", "lambda", "iam", "logs", "apigateway", "sts")
READY_TIMEOUT_S = 30
SESSION_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class LocalStack:
    """A LocalStack endpoint and boto3 sessions for it."""

    endpoint_url: str
    region: str = REGION

    def session(self) -> boto3.Session:
        """A boto3 session with the test credentials (the endpoint comes from AWS_ENDPOINT_URL)."""
        return boto3.Session(
            aws_access_key_id=SESSION_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=SESSION_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )

    def client(self, service_name: str, read_timeout: int = 30) -> Any:
        """A client of this endpoint that fails within read_timeout s instead of retrying."""
        config = Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})
        return self.session().client(service_name, endpoint_url=self.endpoint_url, config=config)


@pytest.fixture(scope="session")
def localstack(
    tmp_path_factory: pytest.TempPathFactory, moto_server: ServiceProcess
) -> Iterator[LocalStack]:
    """A healthy LocalStack for the session; boto3 points at it through the environment. One
    started here pulls image functions' images with the login of the session's moto ECR."""
    own_state_dir = None
    if url := os.environ.get(URL_VARIABLE):
        if not localstack_ctl.healthy(url):
            pytest.fail(f"{URL_VARIABLE}={url} does not answer /_localstack/health", pytrace=False)
    elif (instance := localstack_ctl.running(localstack_ctl.default_state_dir())) and (
        localstack_ctl.healthy(instance.url)
    ):
        url = instance.url
    else:
        own_state_dir = tmp_path_factory.mktemp("localstack")
        try:
            url = localstack_ctl.start(own_state_dir, moto_server.url).url
        except localstack_ctl.TestbedError as error:
            pytest.fail(f"cannot start LocalStack: {error}", pytrace=False)
    try:
        _wait_for_services(url)
        with pytest.MonkeyPatch.context() as patch:
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                patch.delenv(name, raising=False)
            for name, value in {**SESSION_ENVIRONMENT, "AWS_ENDPOINT_URL": url}.items():
                patch.setenv(name, value)
            if not os.environ.get(ENGINE_ENV):
                patch.setenv(ENGINE_ENV, str(machine_engines()))
            yield LocalStack(url)
    finally:
        if own_state_dir:
            localstack_ctl.stop(own_state_dir)


def _wait_for_services(url: str) -> None:
    """pytest-localstack's checks of an already running LocalStack, for the services we use."""
    address = urlsplit(url)
    ports = dict.fromkeys(SERVICES, address.port)
    RunningSession(address.hostname, services=ports, region_name=REGION).start(READY_TIMEOUT_S)


@pytest.fixture
def unique_name() -> str:
    """A fresh name, valid for S3 buckets, Lambda functions, roles and APIs: `scar-t-<hex>`."""
    return f"scar-t-{secrets.token_hex(5)}"


@pytest.fixture(scope="module")
def iam_front(localstack: LocalStack) -> Iterator[IamGateway]:
    """LocalStack behind API Gateway's IAM step (AWS_IAM methods refuse unsigned calls with
    API Gateway's 403s), the endpoint (AWS_ENDPOINT_URL) of every client of the module."""
    environment = SESSION_ENVIRONMENT
    secrets = {environment["AWS_ACCESS_KEY_ID"]: environment["AWS_SECRET_ACCESS_KEY"]}
    with iam_gateway(localstack.endpoint_url, secrets, localstack.region) as front, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", front.url)
        yield front
