"""`build_function_image(spec)`: the one entry for making a function's container image.

Builders: `docker` (a Docker Engine API: Docker itself, or podman's compatible service) and
`daemonless` (registry to registry). `auto` takes docker when a daemon answers, else
daemonless. With `create_image: false` the user's image is used as it is (checked to exist).
"""

from __future__ import annotations

from typing import Literal

from scar_ci.errors import UserError
from scar_ci.package.image_daemonless import build_daemonless
from scar_ci.package.image_spec import BuiltImage, FunctionImageSpec, parse_reference
from scar_ci.package.registry import ImageNotFound, RegistryClient

Builder = Literal["auto", "docker", "daemonless"]
BUILDERS = ("auto", "docker", "daemonless")


def build_function_image(spec: FunctionImageSpec, builder: Builder = "auto") -> BuiltImage:
    """Make sure the function image of `spec` is in its registry; say where and what it cost."""
    if not spec.create_image:
        return prepared_image(spec)
    if builder not in BUILDERS:
        raise UserError(f"unknown image builder {builder!r}: use one of {', '.join(BUILDERS)}")
    if builder == "daemonless":
        return build_daemonless(spec)
    from scar_ci.package import image_docker  # the docker SDK only when a daemon is wanted

    client = image_docker.engine_client(required=builder == "docker")
    if client is None:
        return build_daemonless(spec)
    return image_docker.build_with_docker(spec, client)


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
