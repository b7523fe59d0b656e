"""The `Aws` sessions of one process share botocore's service models: a second `Aws` decodes
no model file again, while a different data path ($AWS_DATA_PATH) gets a loader of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.loaders import JSONFileLoader

from scar_ci.aws.session import Aws


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model files botocore reads from now on."""
    loads: list[str] = []
    original = JSONFileLoader.load_file

    def counted(self: JSONFileLoader, file_path: str) -> object:
        loads.append(file_path)
        return original(self, file_path)

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    Aws().client("lambda")  # this process's first: the models are read here at the latest
    monkeypatch.setattr(JSONFileLoader, "load_file", counted)
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
