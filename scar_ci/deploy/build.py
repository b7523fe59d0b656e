"""The build stage, before the plan: the supervisor layer zip, then each resource's `prepare`
(function images: registry login, layers, base, content tag), so the plan's reads only read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from scar_ci.aws.resource import Resource
from scar_ci.aws.session import Aws
from scar_ci.package.layer import layer_bytes


def supervisor_layer() -> tuple[bytes, str]:
    """The layer zip and its sha256 hex."""
    content = layer_bytes()
    return content, hashlib.sha256(content).hexdigest()


def build(resources: Iterable[Resource], aws: Aws) -> None:
    """Prepare every resource that has something to build, in the desired state's order."""
    for resource in resources:
        resource.prepare(aws)
