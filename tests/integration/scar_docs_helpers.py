"""Shared by the replays of SCAR's documented command lines (test_scar_docs_replay*.py): the
documented lines as data, local mode with stand-in images in its Docker Hub mirror and a SCAR
user's environment, and the replay loop that runs each line as `scar-ci` and checks it."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from scar_ci.cache import cache_dir
from scar_ci.cli import main
from scar_ci.package.image.registry import OCI_MANIFEST, RegistryClient
from scar_testbed.debian_image import PACKAGES, debian_image
from scar_testbed.images import ImageSpec
from scar_testbed.lambda_functions import eventually

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "examples" / "scar-docs"
SCAR_CONFIG = ROOT / "tests" / "data" / "scar-config" / "scar-4.3.1.cfg"
SCAR_CI = str(Path(sys.executable).with_name("scar-ci"))
PATH = {"PATH": "/usr/games:/usr/local/bin:/usr/bin:/bin"}
# Debian (glibc) stand-ins: the supervisor runs them in udocker's F1 as on Lambda, and
# Fakechroot confines dynamically linked programs only. hostname: cow.sh calls it; wget: the
# plants example's bootstrap script; sed: the video example's.
IMAGE_PACKAGES = (*PACKAGES, "hostname", "sed", "wget")
CREATED = "created function"
CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "test",
               "aws_secret_access_key": "test"}


@dataclass(frozen=True)
class Line:
    """One documented command line, where it is documented, and what its output shows."""

    where: str
    command: str
    shows: str = ""
    process: bool = False  # run by the installed scar-ci in a process of its own


def rtd(line: int, command: str, shows: str = "", *, process: bool = False) -> Line:
    return Line(f"scar-readthedocs.txt:{line}", command, shows, process)


def v1(line: int, command: str, shows: str = "", *, process: bool = False) -> Line:
    return Line(f"scar-readme-v1.txt:{line}", command, shows, process)


def start_local_mode(tmp_path_factory: pytest.TempPathFactory, images: Iterable[ImageSpec]
                     ) -> Iterator[tuple[dict[str, str], str, str]]:
    """Local mode with its registry as Docker Hub, `images` pushed to it, and a SCAR user's
    environment (SCAR 4.3.1's configuration file, no AWS variables): (environment, endpoint,
    `local status`'s output); stopped afterwards."""
    home = tmp_path_factory.mktemp("home")
    config = home / "scar-config"
    config.mkdir()
    shutil.copy(SCAR_CONFIG, config / "scar.cfg")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "SCAR_CI_", "GITHUB_"))}
    env = {**clean, "SCAR_CI_CACHE": str(cache_dir()), "HOME": str(home),
           "SCAR_CONFIG_FOLDER": str(config), "SCAR_CI_LOCAL_DIR": str(home / "local")}
    up = run(["local", "up", "--port", "0", "--docker-hub-mirror"], env, home)
    assert up.returncode == 0, up.stderr
    try:
        status = run(["local", "status"], env, home).stdout
        registry = status.split("image registry at ")[1].split()[0]
        for spec in images:
            image = debian_image(spec, IMAGE_PACKAGES)
            RegistryClient(registry).push_image(spec.repository, spec.tag, image.manifest(),
                                                OCI_MANIFEST, image.blobs)
        yield {**env, "SCAR_CI_LOCAL": "1"}, up.stdout.strip(), status
    finally:
        run(["local", "down"], env, home)


def client(service: str, endpoint: str) -> Any:
    """A boto3 client of local mode's `service`."""
    return boto3.client(service, endpoint_url=endpoint, **CREDENTIALS)


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """The command's result, its output as text (an image's bytes shown as they decode)."""
    done = subprocess.run([SCAR_CI, *args], capture_output=True, env=env, cwd=cwd, timeout=300)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


@contextlib.contextmanager
def user_environment(env: dict[str, str], folder: Path) -> Iterator[None]:
    """This process with exactly the SCAR user's environment, in their folder (restored
    after: local mode sets AWS variables in the process it runs in)."""
    saved, cwd = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(folder)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)


def in_process(args: list[str], capfd: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess:
    """`scar_ci.cli.main(args)` here, as the scar-ci command would run it."""
    capfd.readouterr()
    try:
        code = main(args)
    except SystemExit as done:  # argparse's --help and usage errors
        code = int(done.code or 0)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def replay(lines: Iterable[Line], work: Path, env: dict[str, str], logs: Any,
           setup: Callable[[str], None], capfd: pytest.CaptureFixture[str]) -> None:
    """Every line in order, each exiting 0 and showing what it should; `setup` does the
    documentation's steps between them (the lines without a `where`)."""
    last_request = ""
    for line in lines:
        if not line.where:
            setup(line.command)
            continue
        command = line.command.removeprefix("scar ")
        function = re.search(r"-n (\S+)", command)
        if "'log-stream-name'" in command or "request-id" in command:
            stream = _stream_of(logs, function.group(1) if function else "", last_request)
            command = command.replace("'log-stream-name'", shlex.quote(stream))
            command = command.replace("request-id", last_request)
        started = time.monotonic()
        args = shlex.split(command)
        done = run(args, env, work) if line.process else in_process(args, capfd)
        with capfd.disabled():
            print(f"{time.monotonic() - started:5.1f} s  {line.command}")
        said = done.stdout + done.stderr
        assert done.returncode == 0, f"{line.where}: {line.command}\n{said}"
        assert "Traceback" not in said, f"{line.where}: {line.command}\n{said}"
        assert line.shows in said, f"{line.where}: {line.command}: no {line.shows!r}\n{said}"
        if found := re.search(r"Request Id: (\S+)", done.stderr):
            last_request = found.group(1)


def _stream_of(logs: Any, function: str, request: str) -> str:
    """The log stream the request ran in (the documentation's 'log-stream-name'), once its
    REPORT line is there: CloudWatch Logs gets a run's lines after the run has answered."""
    group = f"/aws/lambda/{function or 'scar-cowsay'}"

    def reported_in() -> str | None:
        try:
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:  # the function's first lines
            return None
        for stream in streams:
            events = logs.get_log_events(logGroupName=group,
                                         logStreamName=stream["logStreamName"])["events"]
            if any(e["message"].startswith("REPORT ") and request in e["message"]
                   for e in events):
                return stream["logStreamName"]
        return None

    return eventually(reported_in, f"request {request}'s REPORT line in a log stream of {group}")
