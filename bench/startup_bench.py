"""Start-up time of `scar-ci --version` and `scar-ci validate` (a 5-function FDL), whole
processes, and what they import, measured on scar-ci installed as users install it.

    .venv/bin/python bench/startup_bench.py [--runs 10] [--python PYTHON]

By default the bench measures the `scar-ci` console script of a non-editable install of this
checkout: a venv (made once, in $SCAR_CI_CACHE or ~/.cache/scar-ci) holding the action image's
locked dependencies (requirements/action.txt, what `pip install scar-ci` resolves) and this
checkout's pyproject.toml, README.md and scar_ci/ installed as the Dockerfile installs them.
A development venv's editable install is slower to start (its finder imports pathlib and
urllib) and has more packages (the tests' extras make jsonschema import more): `--python
.venv/bin/python` measures `python -m scar_ci` of that interpreter's installation instead.
Prints which installation it measured, the median and the best wall time and CPU time (user +
system) over `--runs` runs, and the three modules with the largest cumulative import time
(`python -X importtime`). Targets (issue 17): --version <= 0.1 s, validate <= 0.3 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from scar_ci.cache import cache_dir, exclusive

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "action.txt"
PIP = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check")


def user_install() -> list[str]:
    """The command line of `scar-ci` installed from this checkout as a user's pip installs it,
    the venv made once per Python and lock (about a minute), scar-ci reinstalled every run."""
    key = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    venv = cache_dir() / f"startup-bench-py{sys.version_info[0]}{sys.version_info[1]}-{key}"
    python = venv / "bin" / "python"
    with exclusive(venv.with_suffix(".lock")):
        if not (venv / "ready").exists():
            shutil.rmtree(venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(venv)])
            _run([str(python), *PIP, "--require-hashes", "--only-binary=:all:", "-r", str(LOCK)])
            (venv / "ready").touch()
        with tempfile.TemporaryDirectory() as source:
            for name in ("pyproject.toml", "README.md"):
                shutil.copy2(ROOT / name, source)
            shutil.copytree(ROOT / "scar_ci", Path(source) / "scar_ci",
                            ignore=shutil.ignore_patterns("__pycache__"))
            _run([str(python), *PIP, "--no-index", "--no-deps", "--no-build-isolation",
                  "--force-reinstall", source])
    return [str(venv / "bin" / "scar-ci")]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def five_function_fdl(folder: Path) -> Path:
    (folder / "run.sh").write_text("#!/bin/sh\necho hi\n")
    functions = [{"lambda": {"name": f"fn{i}", "init_script": "run.sh",
                             "container": {"image": "busybox:1.36"},
                             "input": [{"storage_provider": "s3", "path": f"bench/in{i}"}],
                             "output": [{"storage_provider": "s3", "path": f"bench/out{i}"}]}}
                 for i in range(5)]
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump({"functions": {"aws": functions}}))
    return path


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def heaviest_imports(command: list[str]) -> str:
    done = subprocess.run(command, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    return ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in sorted(rows)[-3:][::-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--python", metavar="PYTHON",
                        help="measure `PYTHON -m scar_ci` as installed there (default: a "
                             "non-editable install of this checkout, as users get it)")
    args = parser.parse_args()
    scar_ci = [args.python, "-m", "scar_ci"] if args.python else user_install()
    where = (f"`{args.python} -m scar_ci`, that interpreter's installation" if args.python
             else f"`{scar_ci[0]}`, this checkout installed non-editably with the locked "
                  f"dependencies")
    print(f"Measured: {where}\n")
    with tempfile.TemporaryDirectory() as folder:
        fdl = str(five_function_fdl(Path(folder)))
        print("| command | wall median / best | CPU median | largest imports |")
        print("|---|---|---|---|")
        for label, argv in (("--version", ["--version"]),
                            ("validate (5 functions)", ["validate", "-f", fdl])):
            runs = [timed(scar_ci + argv) for _ in range(args.runs)]
            walls = [wall for wall, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            print(f"| {label} | {statistics.median(walls):.3f} s / {min(walls):.3f} s | "
                  f"{cpu:.3f} s | {heaviest_imports(scar_ci + argv)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
