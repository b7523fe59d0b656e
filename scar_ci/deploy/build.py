"""The build stage, before the plan: the supervisor layer zip, then each resource's `prepare`
(function images: registry login, layers, base, content tag), so the plan's reads only read."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from scar_ci.aws.resource import Resource
from scar_ci.aws.session import Aws
from scar_ci.fdl import Fdl
from scar_ci.package.engines import engine_source
from scar_ci.package.layer import layer_bytes, layer_digest

LayerZip = tuple[Callable[[], bytes], str]


def supervisor_layer(fdl: Fdl) -> LayerZip:
    """What makes the layer zip (with udocker's engines), called only to publish it, and the
    layer's digest (scar_ci.package.layer); none when every function of `fdl` runs its own
    image (nothing needs the layer, nor its engines)."""
    if all(function.uses_image_runtime for function in fdl.functions):
        return bytes, ""
    engines = engine_source()
    return partial(layer_bytes, engines), layer_digest(engines)


def build(resources: Iterable[Resource], aws: Aws) -> None:
    """Prepare every resource that has something to build, in the desired state's order."""
    for resource in resources:
        resource.prepare(aws)
