"""The Batch job variant of a pushed function image: the same layers, another entry.

AWS Batch cannot override a container's ENTRYPOINT, and a function image's entry is Lambda's
runtime client (`python -m awslambdaric <handler>`). The job image is a second config and
manifest over the very same layers (a few hundred bytes pushed), whose entry runs the
supervisor's batch job mode (`python -m scar_ci.supervisor.batch_job`), tagged
`<function image tag>-batch`.
"""

from __future__ import annotations

import json

from scar_ci.errors import UserError
from scar_ci.package.image.registry import Credentials, ImageNotFound, RegistryClient, sha256_digest
from scar_ci.package.image.spec import BuiltImage, ImageRef, canonical_json, parse_reference
from scar_ci.package.layer import HANDLER

JOB_TAG_SUFFIX = "-batch"
JOB_MODULE = "scar_ci.supervisor.batch_job"
LAMBDA_ENTRY = ("-m", "awslambdaric", HANDLER)


def job_reference(function_image: str) -> ImageRef:
    """`host/repo:<tag>-batch` for the function image `host/repo:<tag>`."""
    ref = parse_reference(function_image, what="function image")
    return ImageRef(ref.host, ref.repository, ref.reference + JOB_TAG_SUFFIX)


def job_entrypoint(entrypoint: list[str]) -> list[str]:
    """The function image's entry with the batch job module in place of Lambda's client."""
    if tuple(entrypoint[-len(LAMBDA_ENTRY):]) != LAMBDA_ENTRY:
        raise UserError(f"the function image's entrypoint {entrypoint} does not end with "
                        f"{' '.join(LAMBDA_ENTRY)}; it was not built by scar-ci")
    return [*entrypoint[:-len(LAMBDA_ENTRY)], "-m", JOB_MODULE]


def find_job_image(function_image: str, credentials: Credentials | None) -> BuiltImage | None:
    """The job image of `function_image` when its registry has it already."""
    target = job_reference(function_image)
    try:
        digest = RegistryClient(target.url, credentials).get_manifest(
            target.repository, target.reference).digest
    except ImageNotFound:
        return None
    return BuiltImage(str(target), digest, 0, "job variant", pushed=False)


def push_job_image(function_image: str, credentials: Credentials | None) -> BuiltImage:
    """Push the job variant of `function_image` (which must be in its registry)."""
    source = parse_reference(function_image, what="function image")
    target = job_reference(function_image)
    client = RegistryClient(source.url, credentials)
    manifest = client.get_manifest(source.repository, source.reference)
    document = manifest.json()
    descriptor = document.get("config")
    if not isinstance(descriptor, dict):
        raise UserError(f"{function_image}: its manifest names no image configuration")
    config = json.loads(client.get_blob(source.repository, str(descriptor["digest"])))
    config["config"]["Entrypoint"] = job_entrypoint(config["config"].get("Entrypoint") or [])
    config["config"]["Cmd"] = None
    config_bytes = canonical_json(config)
    digest = sha256_digest(config_bytes)
    document["config"] = {**descriptor, "digest": digest, "size": len(config_bytes)}
    manifest_bytes = canonical_json(document)
    report = client.push_image(target.repository, target.reference, manifest_bytes,
                               manifest.media_type, {digest: config_bytes})
    return BuiltImage(str(target), report.manifest_digest, report.bytes_sent, "job variant",
                      uploaded=len(report.uploaded), present=len(report.present))
