"""The `Aws` sessions of one process share botocore's service models: a second `Aws` decodes
no model file again, while a different data path ($AWS_DATA_PATH) gets a loader of its own.
That loader (scar_ci/aws/models.py) gives botocore's models as botocore's own loader does."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from scar_ci.aws import models
from scar_ci.aws.models import PlainJsonFiles, model_loader
from scar_ci.aws.session import Aws

# the services a deploy makes clients of, and the kinds of model it reads
SERVICES = ("lambda", "iam", "logs", "s3", "sts", "ssm", "apigateway",
            "resourcegroupstaggingapi")
KINDS = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model files botocore reads from now on."""
    loads: list[str] = []
    original = PlainJsonFiles.load_file

    def counted(self: PlainJsonFiles, file_path: str) -> object:
        loads.append(file_path)
        return original(self, file_path)

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    Aws().client("lambda")  # this process's first: the models are read here at the latest
    monkeypatch.setattr(PlainJsonFiles, "load_file", counted)
    return loads


def test_a_second_aws_reads_no_service_model_again(model_loads: list[str]) -> None:
    aws = Aws()
    client = aws.client("lambda")

    assert model_loads == []
    assert client.meta.service_model.service_name == "lambda"
    assert aws.client("lambda") is client


def test_another_data_path_gets_its_own_loader(model_loads: list[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))

    Aws().client("lambda")

    assert any(path.endswith("service-2") for path in model_loads), model_loads


@pytest.fixture(scope="module")
def loaders() -> tuple[Loader, Loader]:
    """botocore's own loader and scar-ci's, on the same search paths."""
    botocores = botocore.session.Session().get_component("data_loader")
    return botocores, model_loader(botocores.search_paths)


@pytest.mark.parametrize("kind", KINDS)
def test_the_models_are_botocores_in_the_same_order(loaders: tuple[Loader, Loader],
                                                    kind: str) -> None:
    botocores, ours = loaders
    having = [s for s in SERVICES if s in botocores.list_available_services(kind)]
    assert having  # not every service has waiters (STS, Logs, API Gateway, tagging: none)
    for service in having:
        theirs = botocores.load_service_model(service, kind)
        assert json.dumps(ours.load_service_model(service, kind)) == json.dumps(theirs)


def test_a_model_is_found_without_listing_every_service(loaders: tuple[Loader, Loader],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ours = model_loader(loaders[0].search_paths)

    def listed(*_: object) -> list[str]:
        raise AssertionError("every service listed")

    monkeypatch.setattr(ours, "list_available_services", listed)
    assert ours.load_service_model("lambda", "service-2")["metadata"]["serviceId"] == "Lambda"


def test_an_unknown_service_is_botocores_error(loaders: tuple[Loader, Loader]) -> None:
    with pytest.raises(UnknownServiceError, match="Unknown service: 'no-such-service'"):
        loaders[1].load_service_model("no-such-service", "service-2")


def test_a_botocore_without_the_internals_used_gets_its_own_loader(
        loaders: tuple[Loader, Loader], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "INTERNALS", (*models.INTERNALS, "_gone_in_a_later_release"))
    loader = model_loader(loaders[0].search_paths)
    assert type(loader) is Loader
    assert loader.load_service_model("sts", "service-2")["metadata"]["serviceId"] == "STS"
