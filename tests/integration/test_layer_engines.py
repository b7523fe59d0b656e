"""The deployed supervisor layer carries udocker's engines, from each of the three sources: the
variable, the action image's /opt/udocker-engines (seen here through a mount namespace, so the
machine's /opt is untouched), and udocker's tools tarball (served by a local HTTP server
standing in for GitHub, checked by git blob id). Changing the engines changes the layer; an
unverified tarball is one message and nothing deployed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml

from scar_ci.package.engines import BLOB_ID_ENV, ENGINE_ENV, URL_ENV, git_blob_id
from scar_testbed.http_stub import serving_file

pytestmark = pytest.mark.integration

SCAR_CI = "import sys; from scar_ci.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def engines(tmp_path) -> Path:
    """An engine folder made of the session's (the machine's fakechroot and patchelf)."""
    folder = tmp_path / "engines"
    shutil.copytree(os.environ[ENGINE_ENV], folder)
    return folder


@pytest.fixture
def fdl(tmp_path, unique_name, test_image_archives) -> Path:
    """One zip function with a layer name of its own, so its versions can be counted."""
    shutil.copy(test_image_archives["docker"], tmp_path / "image.tar")
    (tmp_path / "run.sh").write_text("echo hi\n")
    document = {"functions": {"aws": [{"lambda": {
        "name": "engines", "init_script": "run.sh", "container": {"image_file": "image.tar"},
        "supervisor": {"layer_name": unique_name}}}]}}
    path = tmp_path / "scar.yaml"
    path.write_text(yaml.safe_dump(document))
    yield path
    lam = boto3.client("lambda")
    for version in lam.list_layer_versions(LayerName=unique_name)["LayerVersions"]:
        lam.delete_layer_version(LayerName=unique_name, VersionNumber=version["Version"])


def deploy(fdl: Path, scope: str, env: dict[str, str], namespace: str = ""
           ) -> subprocess.CompletedProcess:
    """`scar-ci deploy` in a child process with `env` over this one's (ENGINE_ENV removed
    unless given), optionally after a shell `namespace` set-up in a mount namespace of its
    own."""
    child = {k: v for k, v in os.environ.items() if k != ENGINE_ENV} | env
    command = [sys.executable, "-c", SCAR_CI, "deploy", "-f", str(fdl), "--scope", scope]
    if namespace:
        command = ["unshare", "--mount", "--propagation=private", "sh", "-c",
                   f'{namespace} && exec "$@"', "sh", *command]
    return subprocess.run(command, env=child, capture_output=True, text=True, timeout=300,
                          check=False)


def latest_layer(name: str) -> tuple[str, dict[str, bytes]]:
    """The layer's newest version: its CodeSha256 and its udocker/ files."""
    lam = boto3.client("lambda")
    version = lam.list_layer_versions(LayerName=name)["LayerVersions"][0]
    content = lam.get_layer_version(LayerName=name, VersionNumber=version["Version"])["Content"]
    with urllib.request.urlopen(content["Location"], timeout=30) as response:  # noqa: S310
        data = response.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist() if n.startswith("udocker/")}
    return content["CodeSha256"], files


def tools_tarball(engines: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(engines.rglob("*")):
            tar.add(path, f"udocker_dir/{path.relative_to(engines).as_posix()}", recursive=False)
    return buffer.getvalue()


@pytest.fixture
def github(engines):
    """The engines as udocker's tools tarball, on a local HTTP server: (its URL, its blob id)."""
    data = tools_tarball(engines)
    with serving_file("/udocker-englib.tar.gz", data) as url:
        yield url, git_blob_id(data)


def engine_files(engines: Path) -> dict[str, bytes]:
    return {f"udocker/{p.relative_to(engines).as_posix()}": p.read_bytes()
            for p in engines.rglob("*") if p.is_file()}


def test_each_engine_source_reaches_the_deployed_layer(localstack, fdl, unique_name, engines,
                                                       github, tmp_path):
    scope = f"manual:{unique_name}"
    done = deploy(fdl, scope, {ENGINE_ENV: str(engines)})
    assert done.returncode == 0, done.stderr
    sha_variable, files = latest_layer(unique_name)
    assert files.pop("udocker/SOURCE").startswith(f"engines from {ENGINE_ENV}\n".encode())
    assert files == engine_files(engines)

    image_dir = f"mount -t tmpfs tmpfs /opt && cp -r {engines} /opt/udocker-engines"
    done = deploy(fdl, scope, {}, namespace=image_dir)
    assert done.returncode == 0, done.stderr
    _, files = latest_layer(unique_name)
    assert files.pop("udocker/SOURCE").startswith(
        b"engines from the action image's /opt/udocker-engines\n")
    assert files == engine_files(engines)

    url, blob_id = github
    tarball = {URL_ENV: url, BLOB_ID_ENV: blob_id, "SCAR_CI_CACHE": str(tmp_path / "cache")}
    done = deploy(fdl, scope, tarball)
    assert done.returncode == 0, done.stderr
    _, files = latest_layer(unique_name)
    source = files.pop("udocker/SOURCE").decode()
    assert source.startswith(f"engines from udocker's tools tarball {url} (git blob {blob_id})")
    assert files == engine_files(engines)

    library = next((engines / "lib").iterdir())
    library.write_bytes(library.read_bytes() + b"\0")  # another build of the engines
    done = deploy(fdl, scope, {ENGINE_ENV: str(engines)})
    assert done.returncode == 0, done.stderr
    sha_changed, files = latest_layer(unique_name)
    assert sha_changed != sha_variable
    assert files[f"udocker/lib/{library.name}"] == library.read_bytes()
    subprocess.run([sys.executable, "-c", SCAR_CI, "teardown", "--scope", scope], check=True,
                   capture_output=True, timeout=300)


def test_an_unverified_tarball_is_one_message_and_nothing_deployed(localstack, fdl,
                                                                   unique_name, github,
                                                                   tmp_path):
    url, _ = github
    tarball = {URL_ENV: url, BLOB_ID_ENV: "0" * 40, "SCAR_CI_CACHE": str(tmp_path / "cache")}
    done = deploy(fdl, f"manual:{unique_name}", tarball, namespace="mount -t tmpfs tmpfs /opt")
    assert done.returncode == 1
    assert "is not the expected one" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not boto3.client("lambda").list_layer_versions(LayerName=unique_name)["LayerVersions"]
