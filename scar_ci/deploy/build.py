"""The build stage, before the plan: the supervisor layer zip, then each resource's `prepare`
(function images: registry login, layers, base, content tag), so the plan's reads only read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from scar_ci.aws.resource import Resource
from scar_ci.aws.session import Aws
from scar_ci.fdl import Fdl
from scar_ci.package.engines import engine_source
from scar_ci.package.layer import layer_bytes


def supervisor_layer(fdl: Fdl) -> tuple[bytes, str]:
    """The layer zip (with udocker's engines) and its sha256 hex; none when every function
    of `fdl` runs its own image (nothing needs the layer, nor its engines)."""
    if all(function.uses_image_runtime for function in fdl.functions):
        return b"", ""
    content = layer_bytes(engine_source())
    return content, hashlib.sha256(content).hexdigest()


def build(resources: Iterable[Resource], aws: Aws) -> None:
    """Prepare every resource that has something to build, in the desired state's order."""
    for resource in resources:
        resource.prepare(aws)
