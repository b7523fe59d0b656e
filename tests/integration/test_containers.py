"""Real containers through udocker + Debian's proot, from images built without a daemon."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from scar_testbed.fixtures_containers import run_container
from scar_testbed.images import ImageSpec, build_image
from scar_testbed.udocker_env import Udocker

pytestmark = pytest.mark.integration


def test_image_archives_are_reproducible(test_image, test_image_archives):
    again = build_image(test_image.spec)
    assert again.docker_archive() == test_image_archives["docker"].read_bytes()
    assert again.oci_archive() == test_image_archives["oci"].read_bytes()
    with tarfile.open(fileobj=io.BytesIO(again.layer_tar)) as layer:
        members = layer.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid) for m in members} == {(0, 0, 0)}


def test_image_command_turns_input_into_output(container_runner):
    run = container_runner(input_name="words.txt", input_data=b"hello scar\n")
    assert run.returncode == 0, run.result.stderr
    assert "to-upper: words.txt" in run.stdout
    assert run.outputs == {"words.txt.upper": b"HELLO SCAR\n"}


def test_user_script_sees_scar_variables_and_writes_subfolders(container_runner):
    script = (
        'mkdir -p "$TMP_OUTPUT_DIR/sub"\n'
        'md5sum < "$INPUT_FILE_PATH" | tr -d " -" > "$TMP_OUTPUT_DIR/sub/sum"\n'
        'echo "greeting=$GREETING"\n'
    )
    run = container_runner(script=script,
                           input_data=b"abc", env={"GREETING": "hi there; $(id)"})
    assert run.returncode == 0, run.result.stderr
    assert run.stdout == "greeting=hi there; $(id)\n"
    assert run.outputs == {"sub/sum": b"900150983cd24fb0d6963f7d28e17f72\n"}


def test_failing_script_exit_code_comes_back(container_runner):
    run = container_runner(script="echo broken >&2\nexit 7\n")
    assert run.returncode == 7
    assert "broken" in run.result.stderr
    assert run.outputs == {}


@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_both_archive_forms_load_and_honour_entrypoint_and_env(
    kind: str, udocker: Udocker, tmp_path: Path
):
    spec = ImageSpec(
        repository=f"scar-test/entry-{kind}",
        files={"/app/main.sh": b'#!/bin/sh\necho "$MODE:$1" > "$TMP_OUTPUT_DIR/out"\n'},
        entrypoint=("/app/main.sh",), cmd=("default-arg",), env={"MODE": kind, "PATH": "/bin"},
    )
    archive = tmp_path / f"{kind}.tar"
    image = build_image(spec)
    archive.write_bytes(image.docker_archive() if kind == "docker" else image.oci_archive())
    loaded = udocker.load(archive)
    assert spec.reference in loaded.stdout
    run = run_container(udocker, tmp_path, image=spec.reference)
    assert run.returncode == 0, run.result.stderr
    assert run.outputs == {"out": f"{kind}:default-arg\n".encode()}


def test_missing_binaries_fail_with_what_to_install(monkeypatch, tmp_path):
    from scar_ci.local.errors import LocalError
    from scar_testbed import emulation, images, registry, udocker_env

    with monkeypatch.context() as no_path:
        no_path.setenv("PATH", str(tmp_path))
        with pytest.raises(LocalError, match=r"proot is missing: .* `apt-get install proot`"):
            udocker_env.udocker_environment(tmp_path / "repo", tmp_path / "tools")
        with pytest.raises(RuntimeError, match=r"qemu-aarch64-static is missing: install "
                                               r"Debian's qemu-user-static"):
            emulation.emulation_env(tmp_path / "tools", tmp_path / "proot", "arm64")
    with pytest.raises(RuntimeError, match=r"install Debian's busybox-static"):
        images.build_image(ImageSpec(busybox=tmp_path / "no-busybox"))
    monkeypatch.setattr(registry, "REGISTRY", "docker-registry-not-here")
    with pytest.raises(RuntimeError, match=r"docker-registry-not-here is not installed: bash "
                                           r"scripts/setup-system\.sh"):
        registry.start_registry(tmp_path / "registry")
