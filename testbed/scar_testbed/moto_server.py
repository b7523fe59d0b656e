"""moto's server for the AWS APIs LocalStack community lacks (ECR, Batch)."""

from __future__ import annotations

import sys
from pathlib import Path

from scar_ci.local.image_services import BATCH_MOTO
from scar_ci.local.ports import free_port
from scar_testbed.service_process import ServiceProcess, start_service

SERVICES = ("ecr", "batch")
INSTALL_HINT = 'pip install "moto[server]" (scar-ci\'s [test] extras: bash scripts/setup-venv.sh)'


def moto_server_executable() -> Path:
    """`moto_server` of the running Python's environment."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.is_file():
        raise RuntimeError(f"{executable} is missing: {INSTALL_HINT}")
    return executable


def start_moto(folder: Path) -> ServiceProcess:
    """Start moto's server on a free 127.0.0.1 port (with multi-node job definitions read back
as AWS answers them); its log goes into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    moto_server_executable()  # installed, or the install hint
    # local mode's moto (scar_ci/local/batch_moto.py); without local mode's job environment
    # its jobs go to moto's Docker runner, which fails them here
    argv = [sys.executable, str(BATCH_MOTO), "-H", "127.0.0.1", "-p", str(port)]
    return start_service("moto_server", argv, f"http://127.0.0.1:{port}",
                         folder / "moto.log", ready_path="/moto-api/")


def endpoint_variables(url: str) -> dict[str, str]:
    """`AWS_ENDPOINT_URL_<SERVICE>` for each moto-served API: how boto3 (and the product)
    find it without code changes."""
    return {f"AWS_ENDPOINT_URL_{service.upper()}": url for service in SERVICES}
