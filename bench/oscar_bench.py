"""Wall time and OSCAR requests of `scar-ci deploy` (cold, then no-op) and `scar-ci teardown`
of an FDL of OSCAR services, whole CLI processes, against the test bed's OSCAR stand-in.

    .venv/bin/python bench/oscar_bench.py [--rounds 3] [--services 5]

The stand-in's MinIO is LocalStack (the one at $SCAR_TESTBED_LOCALSTACK_URL, else one started
for the run); no job runs, so udocker is not needed. Each round deploys in a fresh scope; the
table shows the median wall time and the requests the cluster saw (all / mutating).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from scar_testbed import localstack_ctl
from scar_testbed.fake_oscar import PASSWORD, USER, FakeOscar, oscar_handler
from scar_testbed.http_stub import serving
from scar_testbed.udocker_env import Udocker

STEPS = ("cold deploy", "no-op redeploy", "teardown")


def _fdl(folder: Path, services: int, bucket: str) -> Path:
    (folder / "run.sh").write_text('cat "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/out"\n')
    items = [{"lab": {"name": f"svc{i}", "image": "scar-test/busybox:1", "script": "run.sh",
                      "input": [{"storage_provider": "minio", "path": f"{bucket}/in{i}"}]}}
             for i in range(services)]
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump({"functions": {"oscar": items}}))
    return path


def _timed(fake: FakeOscar, args: list[str]) -> tuple[float, int, int]:
    fake.calls.clear()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scar_ci", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, len(fake.calls), len(fake.mutating)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--services", type=int, default=5)
    options = parser.parse_args()
    figures: dict[str, list[tuple[float, int, int]]] = {step: [] for step in STEPS}
    with localstack_ctl.endpoint_for_bench("oscar-bench") as endpoint, \
            tempfile.TemporaryDirectory() as folder:
        fake = FakeOscar(endpoint, Udocker({}), workdir=Path(folder) / "jobs")
        with serving(oscar_handler(fake)) as fake.url:
            config = Path(folder) / "scar.cfg"
            config.write_text(json.dumps({"oscar": {"lab": {
                "endpoint": fake.url, "auth_user": USER, "auth_password": PASSWORD}}}))
            for _ in range(options.rounds):
                stage = f"manual:bench-{secrets.token_hex(3)}"
                fdl = _fdl(Path(folder), options.services, f"bench-{secrets.token_hex(4)}")
                common = ["--scope", stage, "-c", str(config)]
                figures["cold deploy"].append(_timed(fake, ["deploy", "-f", str(fdl), *common]))
                figures["no-op redeploy"].append(
                    _timed(fake, ["deploy", "-f", str(fdl), *common]))
                figures["teardown"].append(_timed(fake, ["teardown", *common]))
    print(f"{options.services} OSCAR services, {options.rounds} round(s), medians")
    print(f"{'step':<16} {'wall time':>10} {'requests':>9} {'mutating':>9}")
    for step, rows in figures.items():
        seconds = statistics.median(r[0] for r in rows)
        print(f"{step:<16} {seconds:>9.2f}s {statistics.median(r[1] for r in rows):>9.0f} "
              f"{statistics.median(r[2] for r in rows):>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
