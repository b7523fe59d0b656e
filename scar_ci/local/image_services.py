"""Local mode's ECR: moto's server for the ECR API and Debian's docker-registry for the images
(stdlib only).

LocalStack's community edition has no ECR, so `scar-ci local up` starts both beside it on free
127.0.0.1 ports (each in its own process group, recorded in `<state>/image-services.json` and
stopped with LocalStack). `--local` points ECR calls (AWS_ENDPOINT_URL_ECR) and image pushes
(SCAR_CI_ECR_REGISTRY) at them, and the executor pulls with the ECR API's token, so
`runtime: image` functions deploy and run unchanged. Without `docker-registry` on PATH only the
ECR API runs (zip functions need neither).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from scar_ci.local.errors import LocalError

HOST = "127.0.0.1"
SERVICES_FILE = "image-services.json"
MOTO_LOG = "ecr.log"  # moto's: the ECR API's and Batch's
REGISTRY_BINARY = "docker-registry"
REGISTRY_VARIABLE = "SCAR_CI_ECR_REGISTRY"  # scar_ci.aws.ecr.REGISTRY_VARIABLE
DOCKER_HUB_MIRROR_VARIABLE = "SCAR_CI_DOCKER_HUB_MIRROR"  # scar_ci.package.image.spec's
ECR_ENDPOINT_VARIABLE = "SCAR_CI_ECR_ENDPOINT"  # the ECR API the executor pulls images with
READY_TIMEOUT_S = 30.0
BATCH_MOTO = Path(__file__).with_name("batch_moto.py")  # run as a script: not imported here
# LocalStack's account, so that ARNs agree across both; no default AMIs (Batch names none, and
# loading them doubles the first EC2 call's time)
MOTO_SETTINGS = {"MOTO_ACCOUNT_ID": "000000000000", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
NO_REGISTRY = (f"{REGISTRY_BINARY} is not installed: `runtime: image` functions cannot be "
               f"deployed in local mode (install it with `apt-get install {REGISTRY_BINARY}`)")


@dataclass(frozen=True)
class ImageServices:
    """The running services: their URLs ('' for no registry) and process ids; `docker_hub`
    when the registry stands for Docker Hub (`up --docker-hub-mirror`)."""

    ecr: str
    registry: str
    pids: tuple[int, ...]
    docker_hub: bool = False


def start(state_dir: Path, venv: Path, ecr_port: int, registry_port: int,
          docker_hub: bool = False, moto_env: Mapping[str, str] | None = None) -> ImageServices:
    """Start the ECR API and Batch (moto's server in LocalStack's venv, `batch_moto.py`, with
    `moto_env`) and, when installed, the registry (Docker Hub's mirror too with
    `docker_hub`); recorded in the state folder."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ecr = f"http://{HOST}:{ecr_port}"
    moto = [str(venv / "bin" / "python"), str(BATCH_MOTO), "-H", HOST, "-p", str(ecr_port)]
    env = {**(os.environ if moto_env is None else moto_env), **MOTO_SETTINGS}
    pids = [_spawn(moto, state_dir / MOTO_LOG, env)]
    registry = ""
    if binary := shutil.which(REGISTRY_BINARY):
        registry = f"http://{HOST}:{registry_port}"
        config = state_dir / "registry.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(state_dir / "registry")},
                        "delete": {"enabled": True}},
            "http": {"addr": f"{HOST}:{registry_port}"},
        }))
        pids.append(_spawn([binary, "serve", str(config)], state_dir / "registry.log"))
    services = ImageServices(ecr, registry, tuple(pids), docker_hub and bool(registry))
    (state_dir / SERVICES_FILE).write_text(json.dumps(asdict(services)))
    return services


def _spawn(command: list[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    with log.open("w") as out:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=env).pid


def wait_until_ready(services: ImageServices, state_dir: Path) -> None:
    """Both answer (moto's /moto-api/, the registry's /v2/), or an error with their logs."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    checks = {f"{services.ecr}/moto-api/": MOTO_LOG}
    if services.registry:
        checks[f"{services.registry}/v2/"] = "registry.log"
    for url, log in checks.items():
        while not _answers(url):
            if time.monotonic() > deadline:
                tail = "\n".join((state_dir / log).read_text().splitlines()[-20:])
                raise LocalError(f"{url} did not answer within {READY_TIMEOUT_S:.0f} s:\n{tail}"
                                 f"\nWhole log: {state_dir / log}")
            time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own 127.0.0.1 service)
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP answer, even an error, means it serves
    except OSError:
        return False


def read(state_dir: Path) -> ImageServices | None:
    """The services recorded in the state folder, if any."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        recorded = json.loads((state_dir / SERVICES_FILE).read_text())
        return ImageServices(recorded["ecr"], recorded["registry"], tuple(recorded["pids"]),
                             recorded.get("docker_hub", False))
    return None


def forget(state_dir: Path) -> tuple[int, ...]:
    """Remove the record; the process ids it held (to stop them)."""
    services = read(state_dir)
    (state_dir / SERVICES_FILE).unlink(missing_ok=True)
    return services.pids if services else ()


def endpoint_variables(state_dir: Path) -> dict[str, str]:
    """What `--local` sets so that ECR and Batch calls and image pushes go to the local
    services (and image builds find Docker Hub's names in the mirror)."""
    services = read(state_dir)
    if not services:
        return {}
    variables = {"AWS_ENDPOINT_URL_ECR": services.ecr, "AWS_ENDPOINT_URL_BATCH": services.ecr}
    if services.registry:
        variables[REGISTRY_VARIABLE] = services.registry
    if services.docker_hub:
        variables[DOCKER_HUB_MIRROR_VARIABLE] = services.registry
    return variables
