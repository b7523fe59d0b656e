"""Cold-start and per-invocation cost of the supervisor itself (not the container's run).

    .venv/bin/python bench/supervisor_bench.py [--rounds N]

Prints: the import time of the handler module (what Lambda imports at cold start), the import
time of what the first invocation loads (the rest of the supervisor; boto3 apart, loaded only
when a job touches storage), and the supervisor's own time per invocation with a runtime that
runs nothing: event parsing, per-job folders, input saving, script choice, variables, clean-up.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from scar_ci.supervisor.command import Command
from scar_ci.supervisor.config import FunctionConfig, Settings
from scar_ci.supervisor.context import LocalContext
from scar_ci.supervisor.invocation import Supervisor
from scar_ci.supervisor.process import RunResult
from scar_ci.supervisor.storage import Storage

IMPORTS = {
    "handler module (cold start)": "import scar_ci.supervisor.handler",
    "first invocation's imports": "import scar_ci.supervisor.invocation, "
                                  "scar_ci.supervisor.runtimes",
    "boto3 (only when storage is used)": "import boto3",
}


def import_seconds(statement: str, rounds: int) -> float:
    """Median wall time of `statement` in fresh interpreters, interpreter start excluded."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(rounds)]
    return statistics.median(runs)


class NullRuntime:
    """Runs nothing: what remains is the supervisor's own work."""

    def prepare(self) -> None:
        """Nothing to prepare."""

    def run(self, command: Command, variables: Mapping[str, str], volumes: Sequence[Path],
            timeout: float, work_dir: Path) -> RunResult:
        """Return at once, as a container that printed one line."""
        return RunResult(0, b"done\n", False)


def invocation_seconds(event: object, rounds: int) -> float:
    """Median time of one `Supervisor.handle` with the null runtime."""
    with tempfile.TemporaryDirectory() as folder:
        init = Path(folder) / "init.sh"
        init.write_text("echo init\n")
        config = FunctionConfig(name="bench", init_script=init, environment={"A": "1"})
        settings = Settings("P1", Path(folder) / "tmp", Path(folder) / "udocker", None)
        supervisor = Supervisor(config, settings, Storage(config), NullRuntime())
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            supervisor.handle(event, LocalContext(seconds=300))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    print(f"supervisor benchmark, Python {sys.version.split()[0]}, median of {rounds} rounds")
    for label, statement in IMPORTS.items():
        print(f"  import {label:42s} {import_seconds(statement, rounds) * 1000:7.1f} ms")
    body = base64.b64encode(b"x" * 1024 * 1024).decode()
    events = {
        "direct invocation, init_script": {},
        "direct invocation, request script": {"script": base64.b64encode(b"echo hi").decode()},
        "API Gateway POST, 1 MiB body": {"httpMethod": "POST", "body": body,
                                         "isBase64Encoded": True, "requestContext": {}},
    }
    for label, event in events.items():
        seconds = invocation_seconds(event, rounds * 5)
        print(f"  per invocation: {label:34s} {seconds * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
