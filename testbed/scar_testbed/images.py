"""Small test images without a daemon: a busybox-static rootfs plus given files.

The same image is written as a `docker save` archive or an OCI archive (both loadable with
`udocker load -i`), or handed out as registry blobs and a manifest for a push. Every byte is
reproducible: fixed mtimes, uid/gid 0, sorted entries, gzip without a timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

BUSYBOX = Path("/bin/busybox")
INSTALL_HINT = "install Debian's busybox-static: bash scripts/setup-system.sh"
EPOCH = 0
DEFAULT_APPLETS = (
    "sh", "cat", "echo", "tr", "wc", "ls", "sleep", "cp", "mv", "rm", "mkdir", "env", "md5sum",
    "sha256sum", "head", "tail", "grep", "sed", "printf", "true", "false", "test", "touch",
    "basename", "dirname", "date", "id", "pwd", "stat", "sort", "uniq", "tee", "xargs",
)
DIRS = ("bin", "dev", "etc", "proc", "root", "sys", "tmp", "usr", "usr/bin", "var", "var/tmp")
ETC_FILES = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
}

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256_digest(data: bytes) -> str:
    """The content digest of `data` as registries and image layouts name it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: object) -> bytes:
    """Compact JSON with sorted keys: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ImageSpec:
    """What goes into a test image: extra files (mode 0755) and the image config."""

    repository: str = "scar-test/busybox"
    tag: str = "latest"
    files: Mapping[str, bytes] = field(default_factory=dict)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = ("/bin/sh",)
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/"
    applets: tuple[str, ...] = DEFAULT_APPLETS
    architecture: str = "amd64"  # the config's; `busybox` must be a binary for it
    busybox: Path = BUSYBOX

    @property
    def reference(self) -> str:
        """`repository:tag`."""
        return f"{self.repository}:{self.tag}"


def _tar_member(
    name: str, kind: bytes, mode: int, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "", ""
    return info


def _tar_bytes(entries: Iterable[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in sorted(entries, key=lambda entry: entry[0].name):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _safe_relative(path: str) -> str:
    relative = PurePosixPath(path.lstrip("/"))
    if not relative.parts or ".." in relative.parts:
        raise ValueError(f"image file path {path!r} must stay inside the image")
    return relative.as_posix()


def rootfs_layer(spec: ImageSpec) -> bytes:
    """The image's single layer as an uncompressed tar (`layer.tar`)."""
    if not spec.busybox.is_file():
        raise RuntimeError(f"{spec.busybox} is missing: {INSTALL_HINT}")
    files = {"bin/busybox": spec.busybox.read_bytes()}
    files.update(ETC_FILES)
    files.update({_safe_relative(path): data for path, data in spec.files.items()})
    dirs = set(DIRS)
    for name in files:
        dirs.update(parent.as_posix() for parent in PurePosixPath(name).parents if parent.name)
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_tar_member(d, tarfile.DIRTYPE, 0o1777 if d.endswith("tmp") else 0o755), None)
        for d in dirs
    ]
    entries += [
        (_tar_member(name, tarfile.REGTYPE, 0o644 if name in ETC_FILES else 0o755, len(data)), data)
        for name, data in files.items()
    ]
    entries += [
        (_tar_member(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"), None)
        for applet in spec.applets if f"bin/{applet}" not in files
    ]
    return _tar_bytes(entries)


@dataclass(frozen=True)
class TestImage:
    """A built test image: its layer, config, manifests and archive forms."""

    spec: ImageSpec
    layer_tar: bytes

    @cached_property
    def layer_gzip(self) -> bytes:
        """The layer as a registry blob (gzip, no timestamp)."""
        return gzip.compress(self.layer_tar, compresslevel=6, mtime=0)

    @cached_property
    def config(self) -> bytes:
        """The image config JSON (Entrypoint, Cmd, Env, WorkingDir, rootfs diff_ids)."""
        container_config: dict[str, object] = {
            "Env": [f"{k}={v}" for k, v in sorted(self.spec.env.items())]
            or ["PATH=/usr/bin:/bin"],
            "WorkingDir": self.spec.workdir,
        }
        if self.spec.entrypoint is not None:
            container_config["Entrypoint"] = list(self.spec.entrypoint)
        if self.spec.cmd is not None:
            container_config["Cmd"] = list(self.spec.cmd)
        return canonical_json({
            "architecture": self.spec.architecture,
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(self.layer_tar)]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scar_testbed"}],
        })

    def manifest(self, media_type: str = OCI_MANIFEST) -> bytes:
        """The registry manifest (OCI or Docker v2 schema 2) for the gzip layer."""
        return image_manifest(media_type, self.config, [self.layer_gzip])

    @property
    def blobs(self) -> dict[str, bytes]:
        """Config and layer blobs by digest, as a registry stores them."""
        return {sha256_digest(blob): blob for blob in (self.config, self.layer_gzip)}

    def docker_archive(self) -> bytes:
        """A `docker save` archive (manifest.json, repositories, <id>/layer.tar)."""
        layer_id = hashlib.sha256(self.layer_tar).hexdigest()
        config_name = hashlib.sha256(self.config).hexdigest() + ".json"
        legacy_json = canonical_json({"id": layer_id, "created": "1970-01-01T00:00:00Z",
                                      "config": json.loads(self.config)["config"]})
        files = {
            f"{layer_id}/VERSION": b"1.0",
            f"{layer_id}/json": legacy_json,
            f"{layer_id}/layer.tar": self.layer_tar,
            config_name: self.config,
            "manifest.json": canonical_json([{"Config": config_name,
                                              "RepoTags": [self.spec.reference],
                                              "Layers": [f"{layer_id}/layer.tar"]}]),
            "repositories": canonical_json({self.spec.repository: {self.spec.tag: layer_id}}),
        }
        return _archive(files, dirs=[layer_id])

    def oci_archive(self) -> bytes:
        """An OCI image layout archive (oci-layout, index.json, blobs/sha256/...)."""
        manifest = self.manifest(OCI_MANIFEST)
        index = {"schemaVersion": 2, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": sha256_digest(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": self.spec.reference},
        }]}
        blobs = {**self.blobs, sha256_digest(manifest): manifest}
        files = {_blob_name(digest): data for digest, data in blobs.items()}
        files["oci-layout"] = canonical_json({"imageLayoutVersion": "1.0.0"})
        files["index.json"] = canonical_json(index)
        return _archive(files, dirs=["blobs", "blobs/sha256"])


def image_manifest(media_type: str, config: bytes, layers: list[bytes]) -> bytes:
    """An OCI or Docker v2 schema 2 manifest for a config blob and gzip layer blobs."""
    docker = media_type == DOCKER_MANIFEST
    return canonical_json({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                   "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP,
                    "digest": sha256_digest(layer), "size": len(layer)} for layer in layers],
    })


def _archive(files: Mapping[str, bytes], dirs: Iterable[str]) -> bytes:
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_tar_member(d, tarfile.DIRTYPE, 0o755), None) for d in dirs
    ]
    entries += [(_tar_member(n, tarfile.REGTYPE, 0o644, len(d)), d) for n, d in files.items()]
    return _tar_bytes(entries)


def build_image(spec: ImageSpec) -> TestImage:
    """Build the image described by `spec` (about 0.1 s: one busybox copy, in memory)."""
    return TestImage(spec, rootfs_layer(spec))


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    extracted = tar.extractfile(name)
    if extracted is None:
        raise ValueError(f"{tar.name}: {name} is not a regular file")
    return extracted.read()


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


def read_oci_archive(path: Path) -> tuple[bytes, str, dict[str, bytes]]:
    """Manifest bytes, its media type and all blobs of the first image in an OCI archive."""
    with tarfile.open(path) as tar:
        descriptor = json.loads(_member(tar, "index.json"))["manifests"][0]
        manifest = _member(tar, _blob_name(descriptor["digest"]))
        parsed = json.loads(manifest)
        blobs = {blob["digest"]: _member(tar, _blob_name(blob["digest"]))
                 for blob in [parsed["config"], *parsed["layers"]]}
    return manifest, descriptor["mediaType"], blobs


def read_docker_archive(path: Path) -> tuple[bytes, str, dict[str, bytes]]:
    """A `docker save` archive as a Docker v2 schema 2 manifest and blobs (layers gzipped)."""
    with tarfile.open(path) as tar:
        entry = json.loads(_member(tar, "manifest.json"))[0]
        config = _member(tar, entry["Config"])
        layers = [gzip.compress(_member(tar, name), mtime=0) for name in entry["Layers"]]
    blobs = {sha256_digest(blob): blob for blob in [config, *layers]}
    return image_manifest(DOCKER_MANIFEST, config, layers), DOCKER_MANIFEST, blobs
