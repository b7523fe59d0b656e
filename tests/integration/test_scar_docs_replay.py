"""SCAR's documented command lines, replayed verbatim with `scar` replaced by `scar-ci`.

The lines are those of SCAR's documentation (scar.readthedocs.io, and the README of SCAR 1.x),
in the order and with the files the documentation gives (examples/scar-docs). They run as a
SCAR user runs them: outside GitHub Actions, in local mode (SCAR_CI_LOCAL=1, no AWS account),
with SCAR 4.3.1's default configuration file in `$SCAR_CONFIG_FOLDER` and no other AWS or
scar-ci variable. The first line and `scar --help` run the installed `scar-ci` in a
subprocess; the others call the same `scar_ci.cli.main` with the line's argv in this process,
in that environment and folder, their output read from file descriptors 1 and 2 (a process
start and its imports cost 1-3 s a line on a loaded machine). Docker Hub images are
stand-ins pushed to local mode's registry (`local up --docker-hub-mirror`), each with the
programs the documentation's scripts call.

`init -f function_def.yaml -rt image` builds its image on the stand-in `image/name`, which the
build finds in the mirror too. The AWS Batch lines (`scar-plants.yaml`, `scar-video-process.yaml`
and their `scar put` lines) are replayed by test_scar_docs_replay_batch.py, beside this file on
the other test worker; scar_docs_helpers.py holds what both share. Two placeholders of the
documentation are filled in: `'log-stream-name'` and `request-id` (the values of the run
before them).
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from scar_docs_helpers import (
    CREATED,
    DOCS,
    PATH,
    Line,
    client,
    in_process,
    replay,
    rtd,
    start_local_mode,
    user_environment,
    v1,
)

from scar_testbed.images import ImageSpec

COWSAY = b"""#!/bin/sh
# grycap/cowsay's stand-in: a cow saying its arguments, or what it reads
[ "${1:-}" = "-n" ] && shift
if [ $# -gt 0 ]; then text="$*"; else text="$(cat)"; fi
echo " ______"
echo "< ${text:-Moo} >"
echo " ------"
echo '        \\   ^__^'
echo '         \\  (oo)\\_______'
echo '            (__)\\       )\\/\\'
"""
PERL = b'#!/bin/sh\nexec "$@"\n'  # cowsay is a Perl script: perl runs it
FORTUNE = b"#!/bin/sh\necho 'You will deploy today.'\n"
CONVERT = b'#!/bin/sh\n# ImageMagick stand-in: convert IN -type Grayscale OUT\ncp "$1" "$4"\n'
DARKNET = (b'#!/bin/sh\n# darknet detect CFG WEIGHTS IMAGE\necho "$4: dog 98%"\n'
           b'cp "$4" predictions.jpg\n')
DF = (b"#!/bin/sh\n# df's stand-in (a real df shows the host's mounts)\n"
      b"echo 'Filesystem      Size  Used Avail Use% Mounted on'\n"
      b"echo '/dev/root       526M  206M  309M  41% /'\n")
IMAGES = (
    ImageSpec("grycap/cowsay", "latest", {"/usr/games/cowsay": COWSAY,
                                          "/usr/games/fortune": FORTUNE, "/usr/bin/perl": PERL,
                                          "/usr/local/bin/df": DF},
              cmd=("/usr/games/cowsay",), env=PATH),
    ImageSpec("library/ubuntu", "16.04", cmd=("/bin/sh",), env=PATH),
    ImageSpec("repo/image", "latest", cmd=("/bin/sh",), env=PATH),
    ImageSpec("image/name", "latest", cmd=("/bin/sh",), env=PATH),
    ImageSpec("grycap/imagemagick", "latest", {"/usr/bin/convert": CONVERT}, env=PATH),
    ImageSpec("grycap/darknet", "latest", {"/opt/darknet/darknet": DARKNET}, env=PATH),
)

# The documentation's files under the names it gives them (cow.yaml changes meaning as the
# documentation rewrites it: each section's version is put in place before its lines).
FILES = {
    "basic-cow.yaml": "00-basic-cow.yaml", "cow.sh": "cow.sh", "runcow.sh": "runcow.sh",
    "cow-env.yaml": "03-cow-env.yaml", "cowsay.tar.gz": "cowsay.tar.gz",
    "minicow.yaml": "05-minicow.yaml", "minicow.tar.gz": "minicow.tar.gz",
    "api-cow.yaml": "13-api-cow.yaml", "grayify-image.sh": "grayify-image.sh",
    "yolo.sh": "yolo.sh", "darknet.yaml": "18-darknet.yaml",
    "function_def.yaml": "07-image-runtime.yaml", "script.sh": "script.sh",
}
V1_SCRIPTS = {
    "src/test/test-cowsay.sh": "/usr/games/cowsay 'Hello from a run script'\n",
    "src/test/test-env.sh": "env | sort\n",
    "src/test/test-global-vars.sh": "echo \"TEST1=$TEST1 TEST2=$TEST2\"\n",
    "user-defined-script.sh": "echo \"processing ${INPUT_FILE_PATH:-no input}\"\n",
}


def cow_yaml(name: str) -> Line:
    """Not a command: the documentation's next version of cow.yaml."""
    return Line("", f"cow.yaml={name}")


SECTIONS = (
    # Basic usage, CLI and FDL
    rtd(276, "scar init -n scar-cowsay -i grycap/cowsay", CREATED, process=True),
    rtd(278, "scar run -n scar-cowsay", "Moo"),
    rtd(292, "scar ls", "scar-cowsay"),
    rtd(298, "scar rm -n scar-cowsay", "deleted function scar-cowsay"),
    rtd(571, "scar init -f basic-cow.yaml", CREATED),
    rtd(581, "scar run -f basic-cow.yaml", "Moo"),
    rtd(591, "scar log -f basic-cow.yaml", "START RequestId"),
    rtd(601, "scar rm -f basic-cow.yaml", "deleted function scar-cowsay"),
    rtd(626, "scar init -n scar-cowsay -i grycap/cowsay", CREATED),
    rtd(636, "scar --help", "init", process=True),
    rtd(648, "scar run -n scar-cowsay", "Moo"),
    rtd(673, "scar log -n scar-cowsay", "REPORT RequestId"),
    rtd(681, "scar log -n scar-cowsay -ls 'log-stream-name'", "START RequestId"),
    rtd(689, "scar log -n scar-cowsay -ri request-id", "END RequestId"),
    rtd(697, "scar log -n scar-cowsay -ls 'log-stream-name' -ri request-id", "END RequestId"),
    rtd(717, "scar rm -n scar-cowsay", "deleted function scar-cowsay"),
    # Advanced usage: init script, run script, variables, commands, JSON
    cow_yaml("01-cow-init-script.yaml"),
    rtd(767, "scar init -f cow.yaml", CREATED),
    rtd(775, "scar init -s cow.sh -n scar-cowsay -i grycap/cowsay", "update"),
    rtd(783, "scar run -f cow.yaml", "init script running"),
    cow_yaml("02-cow-run-script.yaml"),
    rtd(824, "scar init -f cow.yaml", "update"),
    rtd(832, "scar run -n scar-cowsay", "Moo"),
    rtd(853, "scar run -f cow.yaml", "REQUEST_ID="),
    rtd(861, "scar run -n scar-cowsay -s runcow.sh", "REQUEST_ID="),
    rtd(869, "scar run -f cow.yaml -s runcow.sh", "REQUEST_ID="),
    rtd(923, "scar init -f cow-env.yaml", "update"),
    rtd(931, "scar init -n scar-cowsay -i grycap/cowsay -e TEST1=45 -e TEST2=69 -s cow.sh",
        "update"),
    rtd(944, "scar run -f cow.yaml df -h", "Filesystem"),
    rtd(963, "scar run -f cow.yaml -j", '"LambdaOutput"'),
    # image files and the deployment bucket
    cow_yaml("04-cow-image-file.yaml"),
    rtd(998, "scar init -f cow.yaml", "update"),
    rtd(1006, "scar init -db scar-cowsay -n scar-cowsay -if cowsay.tar.gz", "scar-cowsay"),
    rtd(1032, "scar init -f minicow.yaml", "scar-cowsay"),
    # the Lambda image environment (a container-image function built on image/name)
    rtd(1127, "scar  init -f function_def.yaml -rt image", CREATED),
    # API Gateway
    rtd(1360, "scar init -f api-cow.yaml", "created api"),
    rtd(1368, "scar ls", "/launch"),
    rtd(1416, "scar invoke -f api-cow.yaml", "Moo"),
    rtd(1442, "scar invoke -f api-cow.yaml -a", "launched successfully"),
    Line("", "image-parser.yaml=14-image-parser.yaml"),
    rtd(1482, "scar init -f image-parser.yaml", "created api"),
    rtd(1493, "scar invoke -f image-parser.yaml -db homer.png", ""),
    Line("", "image-parser.yaml=15-image-parser-body.yaml"),
    rtd(1527, "scar init -f image-parser.yaml", "update"),
    rtd(1535, "scar invoke -f image-parser.yaml -db homer.png -o grey_homer.png", ""),
    # event-driven file processing
    rtd(2708, "scar init -f darknet.yaml", CREATED),
    Line("", "put scar-darknet/input/dog.jpg"),
    rtd(2747, "scar run -f darknet.yaml", "1 sent, 0 failed"),
    # SCAR 1.x's README
    v1(115, "scar init -n lambda-docker-cowsay -m 128 -t 300 -i grycap/cowsay", "128 MB"),
    v1(121, "scar --help", "log", process=True),
    v1(123, "scar run -n lambda-docker-cowsay", "Moo"),
    v1(131, "scar log -n lambda-docker-cowsay", "START RequestId"),
    v1(135, "scar log -n lambda-docker-cowsay -ls 'log-stream-name'", "REPORT RequestId"),
    v1(139, "scar log -n lambda-docker-cowsay -ri request-id", "END RequestId"),
    v1(143, "scar log -n lambda-docker-cowsay -ls 'log-stream-name' -ri request-id",
       "END RequestId"),
    v1(159, "scar run -s src/test/test-cowsay.sh -n lambda-docker-cowsay",
       "Hello from a run script"),
    v1(167, "scar init -s src/test/test-env.sh -n lambda-test-init-script -i ubuntu:16.04",
       CREATED),
    v1(171, "scar run -n lambda-test-init-script", "REQUEST_ID="),
    v1(179, "scar run -e TEST1=45 -e TEST2=69 -s src/test/test-global-vars.sh -n "
            "lambda-docker-cowsay", "TEST1=45 TEST2=69"),
    v1(194, "scar run -n lambda-docker-cowsay /usr/games/fortune", "deploy today"),
    v1(200, "scar run -n lambda-docker-cowsay /usr/bin/perl /usr/games/cowsay Hello World",
       "Hello World"),
    v1(208, "scar run --json -n lambda-docker-cowsay", '"StatusCode": 200'),
    v1(151, "scar rm -n lambda-docker-cowsay", "deleted function lambda-docker-cowsay"),
    v1(218, "scar init -i grycap/cowsay -n scar-grycap-cowsay -api cowsay", "created api"),
    v1(222, "scar ls", "scar-grycap-cowsay"),
    v1(234, "scar invoke -n scar-grycap-cowsay", "Moo"),
    v1(238, "scar invoke -n scar-grycap-cowsay -a", "launched successfully"),
    Line("", "scar init -n scar-grycap-darknet -i grycap/imagemagick -s grayify-image.sh "
             "-api darknet"),
    v1(246, "scar invoke -n scar-grycap-darknet -d /tmp/img.jpg", ""),
    v1(256, "scar init -s user-defined-script.sh -n lambda-function-name -es bucket-name "
            "-i repo/image:latest", CREATED),
    v1(278, "scar init -s user-defined-script.sh -n lambda-function-name -i repo/image:latest",
       "update"),
    v1(282, "scar run -es bucket-name -n lambda-function-name", "processing"),
    v1(298, "scar init -db bucket-name -n lambda-function-name -i repo/image", "update"),
    v1(309, "scar init -db bucket-name -n lambda-function-name -if docker_image.tar.gz",
       "update"),
)


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str]]:
    """Local mode with the stand-in images and a SCAR user's environment."""
    for env, endpoint, _status in start_local_mode(tmp_path_factory, IMAGES):
        yield env, endpoint


@pytest.mark.integration
def test_scar_documented_command_lines_run_verbatim(local_mode, tmp_path: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    env, endpoint = local_mode
    work = tmp_path / "work"
    work.mkdir()
    for name, source in FILES.items():
        shutil.copy(DOCS / source, work / name)
    shutil.copy(DOCS / "cowsay.tar.gz", work / "docker_image.tar.gz")
    (work / "homer.png").write_bytes(b"\x89PNG homer\n")
    Path("/tmp/img.jpg").write_bytes(b"\xff\xd8 a dog\n")  # SCAR 1.x's example path
    for name, text in V1_SCRIPTS.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(f"#!/bin/sh\n{text}")
    s3 = client("s3", endpoint)
    with user_environment(env, work):
        replay(SECTIONS, work, env, client("logs", endpoint), partial(_setup, work, s3, capfd),
               capfd)
    assert (work / "grey_homer.png").read_bytes() == b"\x89PNG homer\n"
    detected = s3.get_object(Bucket="scar-darknet", Key="output/dog.jpg.txt")["Body"].read()
    assert b"dog 98%" in detected


def _setup(work: Path, s3, capfd: pytest.CaptureFixture[str], step: str) -> None:
    """The documentation's steps between command lines: a file rewritten, an input put, the
    function SCAR 1.x's POST example calls."""
    if "=" in step and not step.startswith("scar "):
        name, source = step.split("=")
        shutil.copy(DOCS / source, work / name)
    elif step.startswith("put "):
        bucket, key = step.removeprefix("put ").split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=b"\xff\xd8 a dog\n")
    else:
        done = in_process(shlex.split(step.removeprefix("scar ")), capfd)
        assert done.returncode == 0, done.stderr + done.stdout
