"""Shared by the command tests: one deployed function that runs for real, and a CLI runner."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scar_ci import cli
from scar_ci.scopes.scope import Scope

# Upper-cases an input file into the output folder, or greets; `?action=echo` returns the
# request body, `?who=X` says who.
SCRIPT = """#!/bin/sh
if [ "$CONT_VAR_action" = "echo" ]; then cat "$INPUT_FILE_PATH"; exit 0; fi
if [ -n "$CONT_VAR_who" ]; then echo "who=$CONT_VAR_who"; fi
if [ -n "$INPUT_FILE_PATH" ]; then
  name=$(basename "$INPUT_FILE_PATH")
  tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"
  echo "shouted $name"
else
  echo "hello from init, MODE=$MODE"
fi
"""


@dataclass(frozen=True)
class Deployed:
    """The test's function: its FDL, scope, deployed name, bucket and API URL."""

    fdl: Path
    scope: Scope
    name: str
    bucket: str
    url: str


def worker_fdl(folder: Path, base: str, image_archive: Path) -> Path:
    """One function `worker` on bucket `<base>` (input/, output/) with an API; `run -f` sends
    its run_script."""
    shutil.copy(image_archive, folder / "image.tar")
    (folder / "worker.sh").write_text(SCRIPT)
    (folder / "worker-run.sh").write_text('echo "run_script says MODE=$MODE"\n')
    document = {"functions": {"aws": [{
        "lambda": {
            "name": "worker", "memory": 256, "timeout": 60, "init_script": "worker.sh",
            "run_script": "worker-run.sh",
            "container": {"image_file": "image.tar", "timeout_threshold": 5},
            "input": [{"storage_provider": "s3", "path": f"{base}/input"}],
            "output": [{"storage_provider": "s3", "path": f"{base}/output"}],
        },
        "api_gateway": {"name": "worker"},
    }]}}
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def scar(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `scar-ci argv` in-process; (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
