"""`build_function_image(spec)`: the one entry for making a function's container image.

Builders: `docker` (a Docker Engine API: Docker itself, or podman's compatible service) and
`daemonless` (registry to registry), both behind one interface: `prepare_build` makes and
reads a build's inputs and gives an `ImageBuild` whose target already carries the content
tag (so a planner can ask the registry for it), and `push` builds and pushes it. `auto`
takes docker when a daemon answers, else daemonless. With `create_image: false` the user's
image is used as it is (checked to exist).
"""

from __future__ import annotations

from typing import Protocol

from scar_ci.errors import UserError
from scar_ci.package.image.builder_choice import BUILDERS, Builder
from scar_ci.package.image.daemonless import prepare_daemonless
from scar_ci.package.image.registry import ImageNotFound, RegistryClient
from scar_ci.package.image.spec import BuiltImage, FunctionImageSpec, ImageRef, parse_reference


class ImageBuild(Protocol):
    """One function image, prepared by one builder: its layers made, its base read, its
    `target` tagged with the content tag; nothing pushed yet."""

    @property
    def builder(self) -> str:
        """The builder's name: `docker` or `daemonless`."""

    @property
    def spec(self) -> FunctionImageSpec: ...

    @property
    def target(self) -> ImageRef: ...

    def push(self) -> BuiltImage:
        """Build the image and push it to `target`."""


def prepare_build(spec: FunctionImageSpec, builder: Builder = "auto") -> ImageBuild:
    """Prepare `spec`'s image with `builder` (`auto`: docker when a daemon answers)."""
    if builder not in BUILDERS:
        raise UserError(f"unknown image builder {builder!r}: use one of {', '.join(BUILDERS)}")
    if builder != "daemonless":
        from scar_ci.package.image import docker_engine  # the docker SDK only when wanted

        client = docker_engine.engine_client(required=builder == "docker")
        if client is not None:
            return docker_engine.prepare_docker(spec, client)
    return prepare_daemonless(spec)


def find_pushed(build: ImageBuild) -> BuiltImage | None:
    """The image when the target registry already has its tag (nothing to build or push)."""
    target = build.target
    try:
        digest = RegistryClient(target.url, build.spec.target_credentials).get_manifest(
            target.repository, target.reference).digest
    except ImageNotFound:
        return None
    build.spec.progress(f"{target} is already in the registry; nothing to build or push")
    return BuiltImage(str(target), digest, 0, build.builder, pushed=False)


def build_function_image(spec: FunctionImageSpec, builder: Builder = "auto") -> BuiltImage:
    """Make sure the function image of `spec` is in its registry; say where and what it cost."""
    if not spec.create_image:
        return prepared_image(spec)
    build = prepare_build(spec, builder)
    return find_pushed(build) or build.push()


def prepared_image(spec: FunctionImageSpec) -> BuiltImage:
    """`create_image: false`: the user's image as it is, after checking the registry has it."""
    ref = parse_reference(spec.base, what="container.image")
    client = RegistryClient(ref.url, spec.base_credentials)
    try:
        manifest = client.get_manifest(ref.repository, ref.reference)
    except ImageNotFound:
        raise ImageNotFound(f"container.image {spec.base!r} not found and create_image is "
                            "false: push the prepared image first, or set create_image: true"
                            ) from None
    return BuiltImage(str(ref), manifest.digest, 0, "none", pushed=False)
