"""entrypoint.py without AWS: validation as annotations and summary, masks, bad inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scar_testbed.actions_runner import ROOT, input_env, step_env

FDL = """functions:
  aws:
  - lambda:
      name: thumbs
      init_script: run.sh
      container:
        image: grycap/imagemagick
      output:
      - storage_provider: minio.store
        path: thumbs/out
storage_providers:
  minio:
    store:
      endpoint: https://minio.example.org
      region: us-east-1
      access_key: AKIAMINIOKEY
      secret_key: "s3cr3t/with+chars"
"""


def entrypoint(workspace: Path, inputs: dict[str, str]) -> tuple[int, str, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({**input_env(inputs), **step_env(workspace, "push_feature.json")})
    done = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], cwd=workspace,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    return (done.returncode, done.stdout, done.stderr,
            (workspace / "step_summary.md").read_text())


def test_validate_masks_the_storage_credentials_and_summarises(tmp_path: Path) -> None:
    (tmp_path / "scar.yaml").write_text(FDL)
    (tmp_path / "run.sh").write_text("echo hi\n")
    code, out, err, summary = entrypoint(tmp_path, {"command": "validate"})
    assert code == 0, err
    masks = [line for line in out.splitlines() if line.startswith("::add-mask::")]
    assert masks == ["::add-mask::AKIAMINIOKEY", "::add-mask::s3cr3t/with+chars"]
    assert out.index("::add-mask::") < out.index("scar.yaml: valid")
    assert summary == "### scar-action · validate `scar.yaml`\n\nvalid: 1 function(s): `thumbs`\n"


def test_a_broken_fdl_is_annotated_on_its_line_and_nothing_is_deployed(tmp_path: Path) -> None:
    (tmp_path / "scar.yaml").write_text(FDL.replace("name: thumbs", "name: thumbs\n"
                                                    "      memroy: 512"))
    (tmp_path / "run.sh").write_text("echo hi\n")
    code, out, err, summary = entrypoint(tmp_path, {"command": "deploy"})
    assert code == 2
    assert "::error file=scar.yaml,line=5,col=7::" in out and "did you mean 'memory'" in out
    assert "nothing was deployed" in err and "Traceback" not in err
    assert summary.startswith("### scar-action · failed\n\n```text\nscar.yaml:5:7:")


def test_a_bad_input_is_one_message(tmp_path: Path) -> None:
    code, _, err, summary = entrypoint(tmp_path, {"smoke-test": "maybe"})
    assert code == 2 and err == ("scar-ci: input 'smoke-test': 'maybe' is not true or false "
                                 "(YAML booleans: true, false)\n")
    assert "is not true or false" in summary


def test_with_arguments_the_image_is_the_cli(tmp_path: Path) -> None:
    (tmp_path / "scar.yaml").write_text("functions:\n  aws:\n  - lambda:\n      name: a\n"
                                        "      memroy: 1\n      container: {image: x/y}\n")
    done = subprocess.run([sys.executable, str(ROOT / "entrypoint.py"), "validate", "-f",
                           "scar.yaml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False,
                          env={k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"})
    assert done.returncode == 2
    assert "scar.yaml:5:7: functions.aws[0].lambda.memroy: unknown key; did you mean 'memory'?" \
        in done.stderr
