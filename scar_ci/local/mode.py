"""What `scar-ci local up|down|status` and `--local` do (stdlib only).

One local instance per user by default: its state folder is $SCAR_CI_LOCAL_DIR, else
`<cache>/local` ($SCAR_CI_CACHE or ~/.cache/scar-ci).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from scar_ci.cache import cache_dir
from scar_ci.local import batch_setup, image_services, localstack
from scar_ci.local.engines import machine_engines
from scar_ci.local.errors import LocalError
from scar_ci.local.localstack_venv import progress
from scar_ci.package.engines import ENGINE_ENV, IMAGE_ENGINE_DIR

STATE_VARIABLE = "SCAR_CI_LOCAL_DIR"
REGION = "us-east-1"
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Settings that would send calls elsewhere, or sign them with someone's real identity.
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL_")


def state_dir() -> Path:
    """The local instance's state folder."""
    return Path(os.environ.get(STATE_VARIABLE) or cache_dir() / "local")


def up(state: Path, port: int, *, docker_hub_mirror: bool = False) -> localstack.Instance:
    """Start local mode (or find it running); progress on stderr. With `docker_hub_mirror`,
    functions pull Docker Hub names from local mode's registry."""
    if (instance := localstack.running(state)) and localstack.healthy(instance.url):
        progress(f"already running at {instance.url} (pid {instance.pid})")
        return instance
    started = time.monotonic()
    progress("starting LocalStack with the scar-local executor")
    instance = localstack.start(state, port, docker_hub_mirror=docker_hub_mirror)
    progress(f"running at {instance.url} after {time.monotonic() - started:.1f} s "
             f"(pid {instance.pid}, log {state / 'localstack.log'})")
    progress(describe_image_services(state))
    return instance


def describe_image_services(state: Path, *, with_network: bool = False) -> str:
    """Where local mode's ECR API and registry are (or that the registry is missing), and its
    Batch (`with_network`: with the default VPC for batch.compute_resources)."""
    services = image_services.read(state)
    if not services:
        return "no ECR API: restart local mode (`scar-ci local down`, then `up`)"
    batch = f"\nBatch at {services.ecr}"
    batch += (f"; {batch_setup.describe(batch_setup.network(services.ecr, state))}"
              if with_network else " (`scar-ci local status` shows its default VPC)")
    if not services.registry:
        return f"ECR API at {services.ecr}; {image_services.NO_REGISTRY}{batch}"
    return f"ECR API at {services.ecr}, image registry at {services.registry}{batch}"


def down(state: Path) -> bool:
    """Stop local mode; False when it was not running."""
    stopped = localstack.stop(state)
    progress("stopped" if stopped else "was not running")
    return stopped


def status(state: Path) -> localstack.Instance | None:
    """The running, healthy local instance, if any."""
    instance = localstack.running(state)
    return instance if instance and localstack.healthy(instance.url) else None


def activate(state: Path) -> str:
    """Point boto3 at the running local instance, the standard way; returns its endpoint.

    Sets AWS_ENDPOINT_URL, test credentials and a default region, and removes what would send
    calls elsewhere (per-service endpoints) or sign them as someone else (profile, token, role);
    ECR calls and image pushes go to local mode's ECR API and registry. Unless an engine folder
    is named (SCAR_UDOCKER_ENGINE_DIR, the action image's), the supervisor layer gets udocker
    engines made of this machine's fakechroot and patchelf (scar_ci.local.engines).
    """
    instance = status(state)
    if instance is None:
        raise LocalError(
            "local mode is not running (--local or SCAR_CI_LOCAL=1): start it with "
            "`scar-ci local up`."
        )
    for name in list(os.environ):
        if name.startswith(_CLEARED):
            del os.environ[name]
    os.environ.update(TEST_CREDENTIALS, AWS_ENDPOINT_URL=instance.url)
    os.environ.update(image_services.endpoint_variables(state))
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    if not os.environ.get(ENGINE_ENV) and not IMAGE_ENGINE_DIR.is_dir():
        os.environ[ENGINE_ENV] = str(machine_engines())
    return instance.url
