"""Fetch a container-image function's image for the scar-local executor, as Lambda pulls it.

    python scar_ci/local/image_pull.py IMAGE_URI ARCHITECTURE ARCHIVE

Run by the executor (scar_ci/local/executor/images.py) on scar-ci's own Python, because
udocker cannot pull by digest and Lambda's ImageUri is pinned by one. Reads the image from its
registry with scar-ci's registry client (plain HTTP for loopback hosts), logged in with the token
of the ECR API at $SCAR_CI_ECR_ENDPOINT when set (Lambda pulls from ECR with the service's
rights), else anonymously; writes it as an OCI image layout archive for `udocker load`, and
prints the image's config (Entrypoint, Cmd, WorkingDir, Env) as JSON. A failure is one line on
stderr, exit 1.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

if __name__ == "__main__":  # run as a script: find scar_ci beside it, on this same Python
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scar_ci.errors import UserError
from scar_ci.local.image_services import ECR_ENDPOINT_VARIABLE
from scar_ci.package.image.daemonless import BaseImage
from scar_ci.package.image.registry import Credentials, ImageNotFound, RegistryError
from scar_ci.package.image.spec import canonical_json, parse_reference

PLATFORMS = {"x86_64": "amd64", "arm64": "arm64"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def ecr_credentials() -> Credentials | None:
    """The registry login of the ECR API configured for the executor, or None."""
    endpoint = os.environ.get(ECR_ENDPOINT_VARIABLE, "").strip()
    if not endpoint:
        return None
    from scar_ci.aws import ecr
    from scar_ci.aws.session import Aws

    os.environ["AWS_ENDPOINT_URL_ECR"] = endpoint
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        os.environ.setdefault(name, value)
    try:
        return ecr.login(Aws())
    except Exception as error:  # botocore's errors: endpoint down, refused
        raise UserError(f"cannot get a registry login from the ECR API at {endpoint} "
                        f"({ECR_ENDPOINT_VARIABLE}): {error}") from None


def pull(image_uri: str, architecture: str, archive: Path) -> dict[str, object]:
    """Write the image as an OCI layout archive; return its config's `config` section."""
    ref = parse_reference(image_uri, what="ImageUri")
    try:
        image = BaseImage(ref, ecr_credentials(), PLATFORMS.get(architecture, architecture))
    except ImageNotFound:
        raise ImageNotFound(f"image {ref} not found in its registry ({ref.url}): check the "
                            "function's ImageUri and that the image was pushed") from None
    manifest = image.manifest
    config_digest = image.parsed["config"]["digest"]
    # udocker loads only index entries typed as OCI manifests; a Docker v2 manifest (what
    # Docker and podman push) has the same shape (config and layers by digest), so it is
    # listed as one
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest.digest,
        "size": len(manifest.content),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}  # udocker's tag
    with tarfile.open(archive, "w") as tar, tempfile.TemporaryDirectory() as folder:
        layer_file = Path(folder, "layer")
        for layer in image.parsed["layers"]:  # one at a time, never whole in memory
            image.client.download_blob(ref.repository, layer["digest"], layer_file)
            tar.add(layer_file, arcname=_blob_name(layer["digest"]), recursive=False)
        _add_bytes(tar, _blob_name(config_digest),
                   image.client.get_blob(ref.repository, config_digest))
        _add_bytes(tar, _blob_name(manifest.digest), manifest.content)
        _add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", canonical_json(index))
    return dict(image.config.get("config") or {})


def _blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    """IMAGE_URI ARCHITECTURE ARCHIVE -> the archive, and the image config on stdout."""
    image_uri, architecture, archive = argv or sys.argv[1:4]
    try:
        config = pull(image_uri, architecture, Path(archive))
    except (UserError, RegistryError) as error:
        print(str(error), file=sys.stderr)
        return 1
    print(json.dumps(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
