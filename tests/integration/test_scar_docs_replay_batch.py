"""SCAR's documented AWS Batch command lines, replayed verbatim with `scar` replaced by
`scar-ci`: the five lines of the "AWS Batch" and "Function Definition Language" sections
(`scar init -f scar-plants.yaml`, its two `scar put` lines, `scar init -f
scar-video-process.yaml` and its `scar put`), in documentation order, with the files the
documentation gives (examples/scar-docs), as test_scar_docs_replay.py replays the others: a
SCAR user's environment, local mode, outside GitHub Actions.

Local mode's Batch is moto's, whose jobs run under udocker in the execution environments'
sandbox (docs/local.md). As the documentation says, the user first fills
`batch.compute_resources.subnets` and `security_group_ids` in their scar.cfg: here with the
default VPC's that `scar-ci local status` prints. Each job must really run: the plants job
writes its classification to `scar-plants/output`; the video job splits `seq1.avi` into
`scar-video/split-images`, which triggers the Lambda function that writes one detection per
image to `scar-video/output`.

Stand-in images in local mode's Docker Hub mirror, each with the programs the documentation's
scripts call: `wget` (Debian's, behind a wrapper that sends S3's public address,
`https://BUCKET.s3.amazonaws.com/KEY`, to local mode's S3, where the documentation has the user
make the script public), `ffmpeg` (two frames, copies of the video), `darknet`. The
classification script the plants example downloads is a stand-in too.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from scar_docs_helpers import (
    CREATED,
    DOCS,
    PATH,
    Line,
    client,
    replay,
    rtd,
    start_local_mode,
    user_environment,
)
from test_scar_docs_replay import DARKNET

from scar_testbed.images import ImageSpec

WGET = b"""#!/bin/sh
# Debian's wget, S3's public address sent to local mode's S3 (the job's AWS_ENDPOINT_URL)
for arg do
    shift
    case "$arg" in https://*.s3.amazonaws.com/*)
        rest="${arg#https://}"
        arg="$AWS_ENDPOINT_URL/${rest%%.s3.amazonaws.com/*}/${rest#*.s3.amazonaws.com/}" ;;
    esac
    set -- "$@" "$arg"
done
exec /usr/bin/wget "$@"
"""
FFMPEG = b"""#!/bin/sh
# ffmpeg -loglevel error -i IN -vf fps=1 OUT-%03d.jpg: two frames, copies of IN
while [ $# -gt 1 ]; do [ "$1" = "-i" ] && input="$2"; shift; done
for frame in 1 2; do cp "$input" "$(printf "$1" "$frame")"; done
"""
CLASSIFY = """#!/bin/sh
# plant-classification-run.sh's stand-in: the classification of the input image
name="$(basename "$INPUT_FILE_PATH")"
echo "$name: Bellis perennis (daisy) 0.97" > "$TMP_OUTPUT_DIR/$name.txt"
"""
IMAGES = (
    ImageSpec("deephdc/deep-oc-plant-classification-theano", "latest",
              {"/usr/local/bin/wget": WGET}, env=PATH),
    ImageSpec("grycap/ffmpeg", "latest", {"/usr/local/bin/ffmpeg": FFMPEG}, env=PATH),
    ImageSpec("grycap/darknet", "latest", {"/opt/darknet/darknet": DARKNET}, env=PATH),
)
FILES = {
    "scar-plants.yaml": "17-scar-plants.yaml", "bootstrap-plants.sh": "bootstrap-plants.sh",
    "scar-video-process.yaml": "19-scar-video-process.yaml",
    "split-video.sh": "split-video.sh",
    "yolo-sample-object-detection.sh": "yolo-sample-object-detection.sh",
}
UPLOADED = "uploaded"
SECTIONS = (
    # AWS Batch: "Set up your configuration file", then "Define a job to be executed in batch"
    Line("", "fill scar.cfg's batch.compute_resources"),
    rtd(2601, "scar init -f scar-plants.yaml", CREATED),
    rtd(2609, "scar put -b scar-plants -p plant-classification-run.sh", UPLOADED),
    rtd(2619, "scar put -b scar-plants/input -p daisy.jpg", UPLOADED),
    Line("", "wait for scar-plants/output/daisy.jpg.txt"),
    # Function Definition Language: a Batch function chained to a Lambda function
    rtd(2822, "scar init -f scar-video-process.yaml", CREATED),
    rtd(2833, "scar put -b scar-video/input -p seq1.avi", UPLOADED),
    Line("", "wait for scar-video/output/seq1-001.jpg.txt"),
    Line("", "wait for scar-video/output/seq1-002.jpg.txt"),
)
JOB_TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[dict[str, str], str, str]]:
    """Local mode with the stand-in images and a SCAR user's environment."""
    yield from start_local_mode(tmp_path_factory, IMAGES)


@pytest.mark.integration
def test_scar_documented_batch_command_lines_run_verbatim(
        local_mode: tuple[dict[str, str], str, str], tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    env, endpoint, status = local_mode
    work = tmp_path / "work"
    work.mkdir()
    for name, source in FILES.items():
        shutil.copy(DOCS / source, work / name)
    (work / "plant-classification-run.sh").write_text(CLASSIFY)
    (work / "daisy.jpg").write_bytes(b"\xff\xd8 a daisy\n")
    (work / "seq1.avi").write_bytes(b"RIFF a video\n")
    s3 = client("s3", endpoint)
    setup = partial(_setup, Path(env["SCAR_CONFIG_FOLDER"]) / "scar.cfg", status, s3)
    with user_environment(env, work):
        replay(SECTIONS, work, env, client("logs", endpoint), setup, capfd)
    assert s3.get_object(Bucket="scar-plants", Key="output/daisy.jpg.txt")["Body"].read() == (
        b"daisy.jpg: Bellis perennis (daisy) 0.97\n")
    for frame in ("seq1-001.jpg", "seq1-002.jpg"):
        assert s3.get_object(Bucket="scar-video", Key=f"split-images/{frame}")[
            "Body"].read() == b"RIFF a video\n"
        detected = s3.get_object(Bucket="scar-video", Key=f"output/{frame}.txt")["Body"].read()
        assert b"dog 98%" in detected


def _setup(config: Path, status: str, s3: Any, step: str) -> None:
    """The documentation's steps between the lines: the configuration file's Batch network
    (what `local status` prints), the wait for a job's output."""
    if step.startswith("fill "):
        subnets, group = re.search(r"subnets (.+); security group (\S+)", status).groups()
        settings = json.loads(config.read_text())
        settings["aws"]["batch"]["compute_resources"].update(
            subnets=subnets.split(", "), security_group_ids=[group])
        config.write_text(json.dumps(settings, indent=2))
    else:
        bucket, key = step.removeprefix("wait for ").split("/", 1)
        _wait_for(s3, bucket, key)


def _wait_for(s3: Any, bucket: str, key: str) -> None:
    """Until the object exists (bounded: the job runs in the background)."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] == 0:
        if time.monotonic() > deadline:
            found = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", ())]
            pytest.fail(f"no {bucket}/{key} after {JOB_TIMEOUT_S:.0f} s; the bucket has "
                        f"{found}", pytrace=False)
        time.sleep(1)
