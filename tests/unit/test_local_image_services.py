"""What `--local` sets for image and Batch functions, from local mode's record of its ECR
services (moto's server is its Batch too)."""

from __future__ import annotations

from pathlib import Path

from scar_ci.aws import ecr
from scar_ci.local import image_services
from scar_ci.local.image_services import SERVICES_FILE, endpoint_variables, forget, read


def test_the_registry_variable_is_the_one_the_deploy_engine_reads() -> None:
    assert image_services.REGISTRY_VARIABLE == ecr.REGISTRY_VARIABLE


def test_endpoints_come_from_the_record_and_nothing_without_one(tmp_path: Path) -> None:
    assert endpoint_variables(tmp_path) == {}
    (tmp_path / SERVICES_FILE).write_text("{not json")
    assert read(tmp_path) is None
    (tmp_path / SERVICES_FILE).write_text(
        '{"ecr": "http://127.0.0.1:1", "registry": "", "pids": [7]}')
    assert endpoint_variables(tmp_path) == {"AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:1",
                                            "AWS_ENDPOINT_URL_BATCH": "http://127.0.0.1:1"}
    (tmp_path / SERVICES_FILE).write_text(
        '{"ecr": "http://127.0.0.1:1", "registry": "http://127.0.0.1:2", "pids": [7, 8]}')
    assert endpoint_variables(tmp_path)["SCAR_CI_ECR_REGISTRY"] == "http://127.0.0.1:2"
    assert forget(tmp_path) == (7, 8)
    assert not (tmp_path / SERVICES_FILE).exists()
