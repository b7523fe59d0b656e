"""moto's server answers the ECR and Batch APIs that LocalStack community lacks; boto3 finds
it through AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_BATCH, as the product will."""

from __future__ import annotations

import os
import uuid

import pytest

from scar_ci.package.image.registry import Credentials, RegistryClient
from scar_testbed.fixtures_moto import ecr_login
from scar_testbed.images import OCI_MANIFEST

pytestmark = pytest.mark.integration


def test_ecr_repository_token_and_describe(moto_aws, moto_server):
    assert os.environ["AWS_ENDPOINT_URL_ECR"] == moto_server.url
    ecr = moto_aws("ecr")
    name = f"scar-test/{uuid.uuid4().hex[:8]}"
    created = ecr.create_repository(repositoryName=name, tags=[{"Key": "scar:scope",
                                                                "Value": "pr-1"}])
    uri = created["repository"]["repositoryUri"]
    assert uri.endswith(f".dkr.ecr.us-east-1.amazonaws.com/{name}")
    described = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert [r["repositoryUri"] for r in described] == [uri]
    assert ecr_login(ecr).username == "AWS"
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[name + "-missing"])


def test_batch_api_answers(moto_aws):
    batch = moto_aws("batch")
    assert batch.describe_compute_environments()["computeEnvironments"] == []


def test_ecr_token_logs_into_the_ecr_like_registry(moto_aws, ecr_registry, test_image):
    login = ecr_login(moto_aws("ecr"))
    client = RegistryClient(ecr_registry.url, Credentials(login.username, login.password))
    report = client.push_image("scar-test/ecr", "v1", test_image.manifest(), OCI_MANIFEST,
                               test_image.blobs)
    assert len(report.uploaded) == 2
