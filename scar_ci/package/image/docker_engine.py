"""The Docker-Engine builder: the same payload as the daemonless builder, built from a
generated Dockerfile and context by a Docker Engine API (Docker, or podman's compatible
service) through the `docker` SDK, then pushed by the daemon.

The tag is the same content tag as the daemonless builder's, over the base image's id, so an
unchanged function is found in the registry and nothing is built or pushed.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import docker
import docker.errors
from docker.utils import parse_repository_tag

from scar_ci.errors import UserError
from scar_ci.package.image.docker_stream import (
    PULL_DONE,
    PULL_STATES,
    PUSH_DONE,
    PUSH_STATES,
    Layers,
    build_step,
    checked,
)
from scar_ci.package.image.payload import Payload, prepare_payload
from scar_ci.package.image.registry import Credentials, RegistryClient
from scar_ci.package.image.runtime import ARCHITECTURES
from scar_ci.package.image.spec import (
    BuiltImage,
    FunctionImageSpec,
    ImageRef,
    parse_reference,
)
from scar_ci.package.image.tar_layer import LayerFile, image_path

NAME = "docker"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPED = re.compile(r'(["\\$])')
FIX_DAEMON = ("start Docker (or podman system service) and check DOCKER_HOST, or choose the "
              "daemonless builder")


def engine_client(*, required: bool) -> docker.DockerClient | None:
    """A client of the Docker Engine that DOCKER_HOST (or the default socket) names, when it
    answers; None when it does not and it is not `required`."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        if required:
            raise UserError(f"no Docker Engine answers ({_first_line(error)}): {FIX_DAEMON}"
                            ) from None
        return None
    return client


def dockerfile(base: str, payload: Payload) -> str:
    """FROM the base, COPY the two layers' trees, the supervisor as the entry."""
    lines = [f"FROM {base}", "COPY runtime/ /", "COPY supervisor/ /"]
    lines += [f'ENV {_env_name(key)}="{_env_value(key, value)}"'
              for key, value in payload.env.items()]
    lines += [f"WORKDIR {payload.workdir}", f"ENTRYPOINT {json.dumps(list(payload.entrypoint))}",
              "CMD []"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DockerBuild:
    """A build through a Docker Engine (an `ImageBuild`): the base is in the daemon and its
    id is in the content tag."""

    spec: FunctionImageSpec
    client: docker.DockerClient
    payload: Payload
    platform: str
    base_id: str
    target: ImageRef
    builder: ClassVar[str] = NAME

    def push(self) -> BuiltImage:
        """Build from a generated context and Dockerfile, then push through the daemon."""
        spec, target = self.spec, self.target
        with tempfile.TemporaryDirectory(prefix="scar-docker-") as folder:
            context = Path(folder)
            _copy_tree(self.payload.runtime_files, context / "runtime")
            _copy_tree(self.payload.supervisor_files, context / "supervisor")
            (context / "Dockerfile").write_text(dockerfile(self.base_id, self.payload))
            spec.progress(f"building {target} with the Docker Engine …")
            try:
                stream = self.client.api.build(path=str(context), tag=str(target), rm=True,
                                               platform=f"linux/{self.platform}", pull=False,
                                               decode=True)
                for item in checked(stream, f"building {target} failed"):
                    step = build_step(item)
                    if step:
                        spec.progress(step)
            except docker.errors.APIError as error:
                raise UserError(f"building {target} failed: {_first_line(error)}") from None
        spec.progress(f"pushing {target} …")
        digest, sent = _push(self.client, f"{target.host}/{target.repository}",
                             target.reference, spec)
        spec.progress(f"pushed {target}, digest {digest}")
        return BuiltImage(str(target), digest, sent, NAME)


def prepare_docker(spec: FunctionImageSpec, client: docker.DockerClient) -> DockerBuild:
    """The layers, the base pulled into the daemon, and the content tag over its id."""
    payload = prepare_payload(spec)
    platform = ARCHITECTURES[spec.architecture]
    spec.progress(f"pulling base image {spec.base} (linux/{platform}) into the Docker Engine …")
    base_id = _pull_base(client, spec, platform)
    target = spec.target_ref(payload.content_tag(base_id, platform))
    return DockerBuild(spec, client, payload, platform, base_id, target)


def _pull_base(client: docker.DockerClient, spec: FunctionImageSpec, platform: str) -> str:
    """The base image's id for `platform`, pulled when the daemon lacks it."""
    repository, tag = parse_repository_tag(spec.base)
    cannot = f"base image {spec.base} (linux/{platform}) cannot be pulled"
    check = "; check container.image and the registry login"
    layers, failure = Layers(PULL_STATES, PULL_DONE), None
    try:
        stream = client.api.pull(repository, tag=tag or "latest", platform=f"linux/{platform}",
                                 auth_config=_auth(spec.base_credentials), stream=True,
                                 decode=True)
        for item in checked(stream, cannot, check):
            if layers.finished(item):
                spec.progress(layers.line("pulled"))
    except docker.errors.APIError as error:
        failure = UserError(f"{cannot}: {_first_line(error)}{check}")
    except UserError as error:
        failure = error
    try:  # after a failed pull: an image built earlier in the job may be in the daemon only
        image = client.images.get(spec.base)
    except docker.errors.DockerException:
        raise failure or UserError(f"{cannot}: the Docker Engine lacks it after the pull{check}"
                                   ) from None
    found = image.attrs.get("Architecture")
    if found and found != platform:
        raise UserError(f"base image {spec.base} is built for {found}, not {platform}: use an "
                        f"image (or a multi-platform index) that has {platform}")
    return str(image.id)


def _push(client: docker.DockerClient, repository: str, tag: str,
          spec: FunctionImageSpec) -> tuple[str, int]:
    """Push; errors arrive as stream items, not exceptions. Returns the digest and the bytes
    the daemon reported sending; says each layer pushed (podman 4 reports no layers)."""
    credentials = spec.target_credentials
    digest, layers = "", Layers(PUSH_STATES, PUSH_DONE)
    stream = client.api.push(repository, tag=tag, auth_config=_auth(credentials), stream=True,
                             decode=True)
    for item in checked(stream, f"pushing {repository}:{tag} failed", "; check the registry "
                        "address and login (for ECR: user AWS and a fresh token)"):
        digest = (item.get("aux") or {}).get("Digest", digest)
        if layers.finished(item):
            spec.progress(layers.line("pushed"))
    if not digest:
        target = RegistryClient(parse_reference(repository).url, credentials)
        digest = target.get_manifest(repository.split("/", 1)[1], tag).digest
    return digest, layers.bytes


def _auth(credentials: Credentials | None) -> dict[str, str] | None:
    if credentials is None:
        return None
    return {"username": credentials.username, "password": credentials.password}


def _copy_tree(files: Iterable[LayerFile], root: Path) -> None:
    for file in files:
        path = root / image_path(file.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(file.source, bytes):
            path.write_bytes(file.source)
        else:
            shutil.copyfile(file.source, path)
        path.chmod(file.mode)


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise UserError(f"environment variable name {name!r} is not valid: use letters, "
                        "digits and _, not starting with a digit")
    return name


def _env_value(name: str, value: str) -> str:
    if any(ord(char) < 32 for char in value):
        raise UserError(f"environment variable {name}: line breaks and control characters "
                        "cannot go into an image's environment")
    return _ESCAPED.sub(r"\\\1", value)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
