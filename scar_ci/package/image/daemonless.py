"""The daemonless builder: the user's image's manifest plus the payload's two layers, pushed
registry to registry with the OCI distribution API.

Base layers never pass through this machine when the target has them or can mount them
(same registry); otherwise each is streamed through a temporary file, one at a time.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from scar_ci.errors import UserError
from scar_ci.package.image.payload import Payload, prepare_payload
from scar_ci.package.image.registry import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Credentials,
    ImageNotFound,
    Manifest,
    PushReport,
    RegistryClient,
    sha256_digest,
)
from scar_ci.package.image.runtime import ARCHITECTURES
from scar_ci.package.image.spec import (
    BuiltImage,
    FunctionImageSpec,
    ImageRef,
    canonical_json,
    parse_reference,
)

NAME = "daemonless"
LAYER_TYPES = {DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
               OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip"}
CONFIG_TYPES = {DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
                OCI_MANIFEST: "application/vnd.oci.image.config.v1+json"}
HISTORY = ("scar-ci: Python runtime and awslambdaric", "scar-ci: supervisor and task files")


class BaseImage:
    """The user's image for one platform: its registry, manifest and config."""

    def __init__(self, ref: ImageRef, credentials: Credentials | None, platform: str) -> None:
        self.ref = ref
        self.client = RegistryClient(ref.url, credentials)
        self.manifest = self._platform_manifest(platform)
        self.parsed: dict[str, Any] = self.manifest.json()
        config_digest = self.parsed["config"]["digest"]
        self.config: dict[str, Any] = json.loads(
            self.client.get_blob(ref.repository, config_digest))
        found = self.config.get("architecture")
        if found and found != platform:
            raise UserError(f"base image {ref} is built for {found}, not {platform}: use an "
                            f"image (or a multi-platform index) that has {platform}")

    def _platform_manifest(self, platform: str) -> Manifest:
        try:
            top = self.client.get_manifest(self.ref.repository, self.ref.reference)
        except ImageNotFound:
            raise ImageNotFound(f"base image {self.ref} not found: check container.image "
                                "(name and tag) and that the registry login can read it"
                                ) from None
        if top.media_type not in (OCI_INDEX, DOCKER_MANIFEST_LIST):
            return top
        entries = top.json().get("manifests", [])
        for entry in entries:
            wanted = entry.get("platform", {})
            if wanted.get("os") == "linux" and wanted.get("architecture") == platform:
                return self.client.get_manifest(self.ref.repository, entry["digest"])
        offered = sorted({f"{e.get('platform', {}).get('os')}/"
                          f"{e.get('platform', {}).get('architecture')}" for e in entries})
        raise UserError(f"base image {self.ref} has no linux/{platform} variant (it offers "
                        f"{', '.join(offered) or 'none'}): choose another architecture or image")


class _BaseBlobs(Mapping[str, Path]):
    """Base layers on demand: each is streamed into `folder` the first time it is asked."""

    def __init__(self, base: BaseImage, folder: Path, extra: Mapping[str, Path]) -> None:
        self.base, self.folder, self.extra = base, folder, extra
        self.digests = [layer["digest"] for layer in base.parsed["layers"]]

    def __getitem__(self, digest: str) -> Path:
        if digest in self.extra:
            return self.extra[digest]
        if digest not in self.digests:
            raise KeyError(digest)
        path = self.folder / digest.replace(":", "-")
        if not path.exists():
            self.base.client.download_blob(self.base.ref.repository, digest, path)
        return path

    def __iter__(self) -> Iterator[str]:
        return iter([*self.digests, *self.extra])

    def __len__(self) -> int:
        return len(self.digests) + len(self.extra)


def image_config(base: dict[str, Any], payload: Payload, platform: str) -> bytes:
    """The base config with the payload's layers, history and entry settings."""
    config = json.loads(json.dumps(base))
    config["architecture"], config["os"] = platform, "linux"
    settings = dict(config.get("config") or {})
    env = dict(item.split("=", 1) for item in settings.get("Env") or [] if "=" in item)
    env.update(payload.env)
    settings.update({"Entrypoint": list(payload.entrypoint), "Cmd": None,
                     "Env": [f"{key}={value}" for key, value in env.items()],
                     "WorkingDir": payload.workdir})
    config["config"] = settings
    config["rootfs"] = {"type": "layers", "diff_ids": [
        *config.get("rootfs", {}).get("diff_ids", []), *(b.diff_id for b in payload.layers)]}
    created = config.get("created", "1970-01-01T00:00:00Z")
    config["history"] = [*config.get("history", []),
                         *({"created": created, "created_by": text} for text in HISTORY)]
    return canonical_json(config)


def image_manifest(base: Mapping[str, Any], base_type: str, config: bytes,
                   payload: Payload) -> tuple[bytes, str]:
    """The new manifest (same family as the base's: Docker v2 or OCI) and its media type."""
    media_type = base_type if base_type in LAYER_TYPES else OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": CONFIG_TYPES[media_type], "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": [*base["layers"], *({"mediaType": LAYER_TYPES[media_type],
                                       "digest": blob.digest, "size": blob.size}
                                      for blob in payload.layers)],
    }
    return canonical_json(manifest), media_type


@dataclass(frozen=True)
class DaemonlessBuild:
    """A daemonless build's inputs, read and made locally (an `ImageBuild`)."""

    spec: FunctionImageSpec
    payload: Payload
    platform: str
    base: BaseImage
    target: ImageRef
    builder: ClassVar[str] = NAME

    def push(self) -> BuiltImage:
        """Write the config and manifest; push what the target registry lacks."""
        spec, payload, base, target = self.spec, self.payload, self.base, self.target
        config = image_config(base.config, payload, self.platform)
        manifest, media_type = image_manifest(base.parsed, base.manifest.media_type, config,
                                              payload)
        mount_from = [base.ref.repository] if base.ref.host == target.host else []
        client = RegistryClient(target.url, spec.target_credentials)
        spec.progress(f"pushing {target} …")
        with tempfile.TemporaryDirectory(prefix="scar-image-") as folder:
            config_path = Path(folder) / "config.json"
            config_path.write_bytes(config)
            ours = {sha256_digest(config): config_path,
                    **{blob.digest: blob.path for blob in payload.layers}}
            report = client.push_image(target.repository, target.reference, manifest,
                                       media_type, _BaseBlobs(base, Path(folder), ours),
                                       mount_from=mount_from, progress=self._pushed)
        return BuiltImage(str(target), report.manifest_digest,
                          report.bytes_sent + len(manifest), NAME,
                          uploaded=len(report.uploaded), mounted=len(report.mounted),
                          present=len(report.present))

    def _pushed(self, report: PushReport, total: int) -> None:
        done = len(report.uploaded) + len(report.mounted) + len(report.present)
        self.spec.progress(f"pushed {done}/{total} blobs, {report.bytes_sent / 1e6:.0f} MB sent")


def prepare_daemonless(spec: FunctionImageSpec) -> DaemonlessBuild:
    """The layers, the base's manifest and the content tag of `spec`'s image (no push)."""
    payload = prepare_payload(spec)  # checks the architecture first
    platform = ARCHITECTURES[spec.architecture]
    spec.progress(f"reading base image {spec.base} ({platform}) …")
    base = BaseImage(parse_reference(spec.base, what="container.image"),
                     spec.base_credentials, platform)
    target = spec.target_ref(payload.content_tag(base.manifest.digest, platform))
    return DaemonlessBuild(spec, payload, platform, base, target)
