"""Local mode's Batch set-up in moto: the default VPC read once and kept, and what a moto that
does not answer is told as."""

from __future__ import annotations

from pathlib import Path

import pytest

from scar_ci.local.batch_setup import BATCH_FILE, BatchNetwork, network, prepare
from scar_ci.local.errors import LocalError
from scar_ci.local.image_services import MOTO_LOG
from scar_testbed.service_process import free_port


def test_the_recorded_default_vpc_is_used_without_asking_moto(tmp_path: Path) -> None:
    (tmp_path / BATCH_FILE).write_text('{"subnets": ["subnet-b", "subnet-a"], '
                                       '"security_group": "sg-1"}')
    nobody = f"http://127.0.0.1:{free_port()}"
    assert network(nobody, tmp_path) == BatchNetwork(("subnet-b", "subnet-a"), "sg-1")


def test_a_moto_that_does_not_answer_is_one_message_saying_what_could_not_be_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(LocalError) as refused:
        network(nobody, tmp_path)
    message = str(refused.value)
    assert message.startswith(f"cannot read the default VPC in moto at {nobody}: "), message
    assert message.endswith(f"(its log: {tmp_path / MOTO_LOG})"), message
    assert not (tmp_path / BATCH_FILE).exists()
    with pytest.raises(LocalError, match=r"^cannot create SCAR's default Batch roles in moto"):
        prepare(nobody, tmp_path)
