"""What a function image is built from (`FunctionImageSpec`), what a build gives back
(`BuiltImage`), image references, and the content tag that makes unchanged builds no-ops."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scar_ci.errors import UserError
from scar_ci.package.image.registry import Credentials, check_reference, check_repository
from scar_ci.package.image.runtime import DEFAULT_DISTRIBUTIONS

DOCKER_HUB = "registry-1.docker.io"
DOCKER_HUB_MIRROR_VARIABLE = "SCAR_CI_DOCKER_HUB_MIRROR"  # local mode's, `up --docker-hub-mirror`
_DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", DOCKER_HUB)
_LOOPBACK = re.compile(r"(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?")
TAG_PREFIX = "scar-"
TASK_ROOT = "/var/task"


@dataclass(frozen=True)
class ImageRef:
    """`host/repository[:tag|@digest]` split; `url` is how to reach the registry."""

    host: str
    repository: str
    reference: str = "latest"

    @property
    def url(self) -> str:
        """https, except plain http for loopback registries (as Docker itself allows); Docker
        Hub's names from its mirror when one is set ($SCAR_CI_DOCKER_HUB_MIRROR)."""
        if self.host == DOCKER_HUB and (mirror := os.environ.get(DOCKER_HUB_MIRROR_VARIABLE)):
            return mirror
        return ("http://" if _LOOPBACK.fullmatch(self.host) else "https://") + self.host

    def __str__(self) -> str:
        separator = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.host}/{self.repository}{separator}{self.reference}"


def parse_reference(text: str, *, what: str = "image") -> ImageRef:
    """Parse a Docker image reference as Docker does (no host: Docker Hub, `library/`)."""
    name, at, digest = text.partition("@")
    tag = "latest"
    if ":" in name.rsplit("/", 1)[-1]:  # with a digest too (name:tag@digest), the digest decides
        name, _, tag = name.rpartition(":")
    reference = digest if at else tag
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, rest
    else:
        host, repository = DOCKER_HUB, name if rest else f"library/{name}"
    if host in _DOCKER_HUB_NAMES:
        host = DOCKER_HUB
    try:
        return ImageRef(host, check_repository(repository), check_reference(reference))
    except UserError as error:
        raise UserError(f"{what} {text!r} is not a valid image reference: {error}") from None


@dataclass(frozen=True)
class FunctionImageSpec:
    """A function image: the user's image plus Python, the supervisor and the task files.

    `base` is FDL's container.image; `target` the repository to push to (`host/repo`, no tag);
    `task_files` go to /var/task (init script, scar-function.json); `env` is added to the
    image's environment. With `create_image` false, `base` is used as it is.
    """

    base: str
    target: str = ""
    architecture: str = "x86_64"
    alpine: bool = False
    create_image: bool = True
    task_files: Mapping[str, bytes] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    base_credentials: Credentials | None = None
    target_credentials: Credentials | None = None
    runtime_dirs: Mapping[str, Path] = field(default_factory=dict)
    distributions: tuple[str, ...] = DEFAULT_DISTRIBUTIONS
    cache_dir: Path | None = None
    progress: Callable[[str], None] = field(default=lambda _: None, compare=False)

    def target_ref(self, tag: str) -> ImageRef:
        """The target repository with `tag`."""
        ref = parse_reference(self.target, what="target repository")
        if ref.reference != "latest" or self.target.endswith(":latest"):
            raise UserError(f"target repository {self.target!r} must not carry a tag: the "
                            "tag is computed from the image's content")
        return ImageRef(ref.host, ref.repository, tag)

    def runtime_dir(self) -> Path | None:
        """The prepared runtime folder for this platform, if one was given: keys are the
        architecture (`x86_64`, `arm64`) with `-musl` appended for alpine images."""
        return self.runtime_dirs.get(self.architecture + ("-musl" if self.alpine else ""))


@dataclass(frozen=True)
class BuiltImage:
    """A function image in its registry: `ref` is `host/repo:tag`, `digest` the manifest's."""

    ref: str
    digest: str
    pushed_bytes: int
    builder: str
    pushed: bool = True
    uploaded: int = 0
    mounted: int = 0
    present: int = 0

    @property
    def pinned(self) -> str:
        """`host/repo@sha256:...`, what Lambda's ImageUri should name."""
        return self.ref.rsplit(":", 1)[0] + "@" + self.digest


def canonical_json(value: object) -> bytes:
    """Sorted, compact JSON: equal values give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def content_tag(base_id: str, layer_digests: list[str], config: Mapping[str, object],
                platform: str) -> str:
    """The tag naming a build's inputs: `scar-` and 32 hex digits of their sha256."""
    inputs = {"base": base_id, "layers": layer_digests, "config": config, "platform": platform}
    return TAG_PREFIX + hashlib.sha256(canonical_json(inputs)).hexdigest()[:32]
