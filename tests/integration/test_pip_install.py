"""`pip install .` is complete: a fresh venv from a clean checkout of HEAD (git archive, no
test extras, only the dependencies pyproject.toml declares, as wheels resolved from the index
once per set of declarations: scar_testbed.wheelhouse) plans a zip function against
LocalStack, supervisor layer with udocker included."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scar_testbed.wheelhouse import dependency_wheels

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_a_fresh_venv_with_pip_install_plans_a_zip_function(localstack, tmp_path, unique_name):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    wheels = dependency_wheels(checkout / "pyproject.toml")
    venv = tmp_path / "venv"
    started = time.monotonic()
    # the venv without its own pip: this pip installs into it (`--python`), as it would with
    # the venv's, and skips what costs most and tests nothing (ensurepip, byte-compiling)
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                           "install", "--quiet", "--no-compile", "--no-index", "--find-links",
                           str(wheels), str(checkout)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"venv + pip install . : {time.monotonic() - started:.1f} s")
    (tmp_path / "run.sh").write_text("echo hi\n")
    fdl = tmp_path / "scar.yaml"
    fdl.write_text(yaml.safe_dump({"functions": {"aws": [{"lambda": {
        "name": "fresh", "init_script": "run.sh", "container": {"image": "debian:bookworm"}}}]}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([str(venv / "bin" / "scar-ci"), "plan", "-f", str(fdl), "--scope",
                           f"manual:{unique_name}"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "layer" in done.stdout and "fresh" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr
