"""The README's `make demo`, run as written (its installs skipped: the suite runs in the venv
they build): the end-to-end test of the whole product in local mode."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
SUMMARY = REPO / "build" / "demo-summary.md"


def test_make_demo_runs_the_chained_pipeline_and_leaves_nothing_running(tmp_path):
    SUMMARY.unlink(missing_ok=True)
    env = {**os.environ, "SCAR_CI_LOCAL_DIR": str(tmp_path / "local")}
    for name in [n for n in env if n.startswith("AWS_")]:
        del env[name]  # the demo needs no credentials and no endpoint

    done = subprocess.run(["make", "-o", "setup", "demo"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for row in ("| homer.txt | DOH RAY ME | 3 |",
                "| fox.txt | THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG | 9 |"):
        assert row in out
    summary = SUMMARY.read_text()
    assert summary in out
    assert summary.startswith("### scar-action · demo in local mode `mn-demo`")
    assert "| count--mn-demo | udocker | busybox.tar | 256 MB | http://127.0.0.1:" in summary
    assert "Plan applied: 11 created" in summary
    assert "**Smoke test** `count--mn-demo`" in summary and "ok in" in summary
    for step in ("validate the example FDL files", "deploy examples/pipeline",
                 "wait for shout's and count's outputs", "tear down scope mn-demo",
                 "stop local mode", "$ scar-ci put -f ", "$ scar-ci invoke -f ",
                 "$ scar-ci teardown --scope manual:demo --delete-data --local"):
        assert step in out
    assert "demo ok" in out
    assert not (tmp_path / "local" / "pid").exists()


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def test_a_missing_or_wrong_output_fails_the_demo_loudly(localstack, unique_name, monkeypatch):
    demo = load_demo()
    s3 = localstack.client("s3")
    s3.create_bucket(Bucket=unique_name)
    for name, (shouted, _) in demo.expected_outputs().items():
        if name != "homer.txt":
            s3.put_object(Bucket=unique_name, Key=f"shouted/{name}", Body=shouted)
        s3.put_object(Bucket=unique_name, Key=f"output/{name}.count", Body=b"42\n")
    monkeypatch.setattr(demo, "OUTPUT_TIMEOUT_S", 1)

    with pytest.raises(demo.DemoFailed) as failed:
        demo.wait_for_outputs(s3, unique_name)

    assert "missing after 1 s: shouted/homer.txt;" in str(failed.value)
    assert "output/fox.txt.count is b'42\\n', expected b'9\\n'" in str(failed.value)
