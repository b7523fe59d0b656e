"""Image building parts without registries: reproducible layers, references, the content tag,
the new config, the Dockerfile's escaping, and platform errors."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from scar_ci.errors import UserError
from scar_ci.package.image.daemonless import image_config
from scar_ci.package.image.docker_engine import dockerfile
from scar_ci.package.image.payload import Payload, runtime_for
from scar_ci.package.image.runtime import host_architecture
from scar_ci.package.image.spec import FunctionImageSpec, content_tag, parse_reference
from scar_ci.package.image.tar_layer import LayerBlob, LayerFile, write_layer

FILES = [LayerFile("/var/task/b.sh", b"echo b\n", 0o755), LayerFile("/opt/x/a.py", b"print(1)\n")]


def test_same_files_give_the_same_layer_bytes_in_any_order(tmp_path: Path) -> None:
    first = write_layer(FILES, tmp_path / "one")
    second = write_layer(list(reversed(FILES)), tmp_path / "two")

    assert first.path.read_bytes() == second.path.read_bytes()
    assert (first.digest, first.diff_id) == (second.digest, second.diff_id)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first.path.read_bytes()))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["opt", "opt/x", "opt/x/a.py", "var", "var/task",
                                         "var/task/b.sh"]
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 0)}
    assert members[-1].mode == 0o755


def test_a_changed_file_changes_the_layer(tmp_path: Path) -> None:
    changed = [FILES[0], LayerFile("/opt/x/a.py", b"print(2)\n")]
    assert write_layer(FILES, tmp_path).digest != write_layer(changed, tmp_path).digest


@pytest.mark.parametrize("path", ["/../etc/passwd", "a/../../b", "/", "a\\b"])
def test_paths_leaving_the_image_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UserError, match="inside the image"):
        write_layer([LayerFile(path, b"x")], tmp_path)


@pytest.mark.parametrize(("text", "host", "repository", "reference"), [
    ("busybox", "registry-1.docker.io", "library/busybox", "latest"),
    ("grycap/cowsay:1.0", "registry-1.docker.io", "grycap/cowsay", "1.0"),
    ("127.0.0.1:5000/a/b@sha256:" + "0" * 64, "127.0.0.1:5000", "a/b", "sha256:" + "0" * 64),
    ("1234.dkr.ecr.us-east-1.amazonaws.com/scar/fn", "1234.dkr.ecr.us-east-1.amazonaws.com",
     "scar/fn", "latest"),
    ("python:3.12@sha256:" + "1" * 64, "registry-1.docker.io", "library/python",
     "sha256:" + "1" * 64),
    ("localhost:5000/a:v2@sha256:" + "2" * 64, "localhost:5000", "a", "sha256:" + "2" * 64),
])
def test_references_are_read_as_docker_reads_them(
    text: str, host: str, repository: str, reference: str
) -> None:
    assert parse_reference(text) == parse_reference(text)
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.reference) == (host, repository, reference)


def test_loopback_registries_are_plain_http_others_https() -> None:
    assert parse_reference("127.0.0.1:5000/a").url == "http://127.0.0.1:5000"
    assert parse_reference("localhost:5000/a").url == "http://localhost:5000"
    assert parse_reference("ghcr.io/a/b").url == "https://ghcr.io"


def test_docker_hub_names_come_from_its_mirror_when_local_mode_has_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAR_CI_DOCKER_HUB_MIRROR", "http://127.0.0.1:5999")
    assert parse_reference("image/name").url == "http://127.0.0.1:5999"
    assert str(parse_reference("image/name")) == "registry-1.docker.io/image/name:latest"
    assert parse_reference("ghcr.io/a/b").url == "https://ghcr.io"  # other registries: as named


def test_bad_references_and_tagged_targets_are_clear_errors() -> None:
    with pytest.raises(UserError, match=r"container\.image 'Bad/Name' is not a valid"):
        parse_reference("Bad/Name", what="container.image")
    with pytest.raises(UserError, match="invalid tag or digest ''"):
        parse_reference("busybox@")
    with pytest.raises(UserError, match="must not carry a tag"):
        FunctionImageSpec(base="busybox", target="ghcr.io/a/b:v1").target_ref("scar-1")


def test_content_tag_depends_on_every_input() -> None:
    tag = content_tag("sha256:a", ["sha256:l"], {"Env": {}}, "amd64")
    assert tag.startswith("scar-") and len(tag) == 37
    assert tag == content_tag("sha256:a", ["sha256:l"], {"Env": {}}, "amd64")
    assert len({tag, content_tag("sha256:b", ["sha256:l"], {"Env": {}}, "amd64"),
                content_tag("sha256:a", ["sha256:m"], {"Env": {}}, "amd64"),
                content_tag("sha256:a", ["sha256:l"], {"Env": {"A": "1"}}, "amd64"),
                content_tag("sha256:a", ["sha256:l"], {"Env": {}}, "arm64")}) == 5


def _payload(env: dict[str, str]) -> Payload:
    blob = LayerBlob(Path("/nowhere"), "sha256:" + "1" * 64, "sha256:" + "2" * 64, 10)
    return Payload((blob, blob), (), (), ("/opt/py", "-m", "awslambdaric", "h.f"), env)


def test_new_config_keeps_the_base_and_makes_the_supervisor_the_entry() -> None:
    base = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/bin", "MODE=base"], "Cmd": ["/bin/sh"], "User": "app"},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:base"]},
            "history": [{"created_by": "base"}]}

    payload = _payload({"MODE": "fn", "LAMBDA_TASK_ROOT": "/var/task"})
    config = json.loads(image_config(base, payload, "amd64"))

    assert config["config"]["Env"] == ["PATH=/bin", "MODE=fn", "LAMBDA_TASK_ROOT=/var/task"]
    assert config["config"]["Entrypoint"] == ["/opt/py", "-m", "awslambdaric", "h.f"]
    assert (config["config"]["Cmd"], config["config"]["User"]) == (None, "app")
    assert config["rootfs"]["diff_ids"] == ["sha256:base", "sha256:" + "2" * 64,
                                            "sha256:" + "2" * 64]
    assert len(config["history"]) == 3 and config["created"] == "2024-01-01T00:00:00Z"


def test_dockerfile_escapes_values_and_refuses_what_it_cannot_hold() -> None:
    text = dockerfile("sha256:abc", _payload({"GREETING": 'say "hi" to $USER \\o/'}))
    assert 'ENV GREETING="say \\"hi\\" to \\$USER \\\\o/"' in text
    assert text.splitlines()[0] == "FROM sha256:abc"
    assert 'ENTRYPOINT ["/opt/py", "-m", "awslambdaric", "h.f"]' in text
    with pytest.raises(UserError, match="line breaks"):
        dockerfile("b", _payload({"A": "x\nRUN rm -rf /"}))
    with pytest.raises(UserError, match="not valid"):
        dockerfile("b", _payload({"A B": "x"}))


def test_unknown_architectures_and_folders_that_are_no_runtime_are_refused(
        tmp_path: Path) -> None:
    other = "arm64" if host_architecture() == "x86_64" else "x86_64"
    with pytest.raises(UserError, match="not supported: use x86_64 or arm64"):
        runtime_for("s390x")
    with pytest.raises(UserError, match="bin/python3 is missing"):
        runtime_for(other, tmp_path)



# The Docker Engine's push stream for a 3-layer image, in the shape the docker CLI shows;
# podman 4 sends only the first and the digest lines, so the layer lines are checked here.
DOCKER_PUSH_STREAM = (
    {"status": "The push refers to repository [127.0.0.1:5000/fn/x]"},
    *({"status": "Preparing", "progressDetail": {}, "id": layer} for layer in "abc"),
    {"status": "Layer already exists", "progressDetail": {}, "id": "a"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 4_000_000}, "id": "b"},
    {"status": "Mounted from base/image", "progressDetail": {}, "id": "c"},
    {"status": "Pushing", "progressDetail": {"current": 4_000_000, "total": 4_000_000},
     "id": "b"},
    {"status": "Pushed", "progressDetail": {}, "id": "b"},
    {"status": "scar-1: digest: sha256:" + "f" * 64 + " size: 1234"},
    {"progressDetail": {}, "aux": {"Tag": "scar-1", "Digest": "sha256:" + "f" * 64,
                                   "Size": 1234}},
)


class _RecordedPush:
    """Stands in for `docker.DockerClient`: `api.push` gives DOCKER_PUSH_STREAM."""

    @property
    def api(self) -> _RecordedPush:
        return self

    def push(self, *args: object, **kwargs: object) -> tuple[dict[str, object], ...]:
        return DOCKER_PUSH_STREAM


def test_a_docker_push_says_each_layer_done_and_returns_the_digest() -> None:
    from scar_ci.package.image.docker_engine import _push

    said: list[str] = []
    spec = FunctionImageSpec("base", progress=said.append)
    digest, sent = _push(_RecordedPush(), "127.0.0.1:5000/fn/x", "scar-1", spec)  # type: ignore[arg-type]

    assert (digest, sent) == ("sha256:" + "f" * 64, 4_000_000)
    assert said == ["pushed 1/3 layers, 0 MB", "pushed 2/3 layers, 4 MB",
                    "pushed 3/3 layers, 4 MB"]


def test_a_pull_counts_layers_not_the_tag_and_an_error_item_is_one_message() -> None:
    from scar_ci.package.image.docker_stream import PULL_DONE, PULL_STATES, Layers, checked

    pull = [{"status": "Pulling from library/busybox", "id": "latest"},
            {"status": "Pulling fs layer", "progressDetail": {}, "id": "a"},
            {"status": "Already exists", "progressDetail": {}, "id": "b"},
            {"status": "Downloading", "progressDetail": {"current": 1, "total": 2_000_000},
             "id": "a"},
            {"status": "Download complete", "progressDetail": {}, "id": "a"},
            {"status": "Pull complete", "progressDetail": {}, "id": "a"},
            {"status": "Digest: sha256:" + "0" * 64},
            {"error": "unauthorized", "errorDetail": {"message": "unauthorized: login\n"}}]
    layers, said = Layers(PULL_STATES, PULL_DONE), []
    with pytest.raises(UserError) as error:
        for item in checked(pull, "pull failed", "; log in"):
            if layers.finished(item):
                said.append(layers.line("pulled"))

    assert said == ["pulled 1/2 layers, 0 MB", "pulled 2/2 layers, 2 MB"]
    assert str(error.value) == "pull failed: unauthorized: login; log in"


def test_build_steps_are_said_in_docker_and_podman_words_and_cut_short() -> None:
    from scar_ci.package.image.docker_stream import build_step

    assert build_step({"stream": "Step 2/7 : COPY runtime/ /\n"}) == "Step 2/7 : COPY runtime/ /"
    assert build_step({"stream": "STEP 2/7: COPY runtime/ /\n"}) == "STEP 2/7: COPY runtime/ /"
    assert build_step({"stream": " ---> 7ed37abf92f\n"}) is None
    assert build_step({"aux": {"ID": "sha256:0"}}) is None
    long = build_step({"stream": "STEP 6/7: ENTRYPOINT " + "x" * 200})
    assert long is not None and len(long) == 100 and long.endswith("…")
