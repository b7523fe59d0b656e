"""The test bed's LocalStack: scar-ci's local mode (scar_ci.local) with a state folder per work
tree and this work tree's `.venv` Python running the functions.

    python3 testbed/scar_testbed/localstack_ctl.py setup|start|stop|status [--state-dir DIR]

`setup` builds LocalStack's venv (docs/local.md); `start` prints the endpoint URL of a LocalStack
on a free 127.0.0.1 port; `status` exits 3 when none runs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
if __name__ == "__main__":  # run as a script by any python3: find scar_ci in this work tree
    sys.path.insert(0, str(REPO_DIR))

from scar_ci.cache import cache_dir  # noqa: E402
from scar_ci.local import localstack, localstack_venv, mode  # noqa: E402
from scar_ci.local.commands import report_status  # noqa: E402
from scar_ci.local.errors import LocalError as TestbedError  # noqa: E402
from scar_ci.local.localstack import Instance, healthy, running, stop  # noqa: E402

__all__ = [
    "Instance",
    "TestbedError",
    "default_state_dir",
    "endpoint_for_bench",
    "healthy",
    "running",
    "start",
    "stop",
]
FUNCTION_PYTHON = REPO_DIR / ".venv" / "bin" / "python"


def default_state_dir() -> Path:
    """The state folder (pid, port, log) of this work tree's LocalStack."""
    tree = hashlib.sha256(str(REPO_DIR).encode()).hexdigest()[:10]
    return cache_dir() / "run" / f"localstack-{tree}"


def start(state_dir: Path, ecr_endpoint: str = "") -> Instance:
    """Start (or find) a LocalStack on a free port whose functions run on this tree's .venv;
    image functions' images are pulled with the token of the ECR API at `ecr_endpoint`."""
    python = os.environ.get(localstack.FUNCTION_PYTHON_VARIABLE) or str(FUNCTION_PYTHON)
    return localstack.start(state_dir, 0, python, ecr_endpoint)


@contextlib.contextmanager
def endpoint_for_bench(name: str) -> Iterator[str]:
    """The LocalStack at $SCAR_TESTBED_LOCALSTACK_URL, else one started (and stopped) for the
    block; boto3 is pointed at it with test credentials either way. Yields its URL."""
    url = os.environ.get("SCAR_TESTBED_LOCALSTACK_URL")
    own_state = None if url else Path(tempfile.mkdtemp(prefix=f"{name}-"))
    if own_state:
        url = start(own_state).url
    os.environ.update({"AWS_ENDPOINT_URL": str(url), "AWS_ACCESS_KEY_ID": "test",
                       "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"})
    try:
        yield str(url)
    finally:
        if own_state:
            stop(own_state)
            shutil.rmtree(own_state, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """The command line: setup, start, stop, status."""
    parser = argparse.ArgumentParser(prog="localstack_ctl", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["setup", "start", "stop", "status"])
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="pid, port and log (default: in the cache)"
    )
    args = parser.parse_args(argv)
    state_dir = args.state_dir or default_state_dir()
    try:
        if args.command == "setup":
            localstack_venv.setup()
        elif args.command == "start":
            print(start(state_dir).url)
        elif args.command == "stop":
            mode.down(state_dir)
        else:
            return report_status(state_dir)
    except TestbedError as error:
        print(error.render(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
