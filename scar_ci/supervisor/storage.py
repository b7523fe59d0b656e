"""Inputs downloaded, outputs uploaded, through S3, MinIO and Onedata providers named as in FDL."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from scar_ci.supervisor.config import FunctionConfig
from scar_ci.supervisor.errors import ConfigError
from scar_ci.supervisor.events import StoredObject
from scar_ci.supervisor.keys import check_object_key, local_path_for_key, output_key
from scar_ci.supervisor.onedata import OnedataClient

log = logging.getLogger("scar.supervisor")
KINDS = ("s3", "minio", "onedata")


class Storage:
    """One client per provider (`s3`, `s3.<id>`, `minio.<id>`: boto3's; `onedata.<id>`: CDMI),
    made on first use."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        self._clients: dict[str, Any] = {}
        self._credentials: dict[str, Any] | None = None

    def client(self, provider: str) -> Any:
        """The client for a provider; the bare `s3` uses the function's own role."""
        if provider not in self._clients:
            self._clients[provider] = self._make_client(provider)
        return self._clients[provider]

    def _make_client(self, provider: str) -> Any:
        kind, _, ident = provider.partition(".")
        if kind not in KINDS:
            raise ConfigError(f"storage provider {provider!r}: use s3, minio or onedata")
        if not ident and kind != "s3":
            raise ConfigError(f"storage provider {kind!r} needs an id: {kind}.<id>")
        settings = (self.config.storage_providers.get(kind) or {}).get(ident) if ident else {}
        if not isinstance(settings, dict):
            raise ConfigError(f"storage provider {provider!r} is not defined under "
                              f"storage_providers.{kind} in the FDL")
        if ident:
            settings = {**settings, **(self.credentials().get(kind) or {}).get(ident, {})}
        if kind == "onedata":
            return OnedataClient(provider, settings)
        import boto3  # lazy: keeps the handler light to import

        if not ident:
            return boto3.client("s3")
        options: dict[str, Any] = {
            "aws_access_key_id": settings.get("access_key") or None,
            "aws_secret_access_key": settings.get("secret_key") or None,
            "region_name": settings.get("region") or None,
        }
        if kind == "minio":
            endpoint = str(settings.get("endpoint") or "")
            if not endpoint:
                raise ConfigError(f"storage provider {provider!r} has no endpoint")
            options["endpoint_url"] = endpoint if "://" in endpoint else f"https://{endpoint}"
            options["verify"] = bool(settings.get("verify", True))
        return boto3.client("s3", **options)

    def credentials(self) -> dict[str, Any]:
        """`{kind: {id: {setting: secret}}}` from the function's SSM parameter, read once."""
        if self._credentials is None:
            name = self.config.storage_credentials
            self._credentials = read_credentials(name) if name else {}
        return self._credentials

    def input_provider(self, stored: StoredObject) -> str:
        """The provider of the FDL input whose bucket sent the event (default: s3)."""
        for provider, path in self.config.inputs:
            if path.strip("/").split("/")[0] == stored.bucket:
                return provider
        return "s3"

    def download(self, stored: StoredObject, folder: Path) -> Path:
        """Fetch the object into `folder` under its key's last segment."""
        target = local_path_for_key(folder, stored.key)
        provider = self.input_provider(stored)
        log.info("downloading %s://%s/%s", provider, stored.bucket, stored.key)
        # s3transfer writes to `<target>.<8 hex>` first: a short name leaves the whole NAME_MAX
        partial = folder / ".scar-download"
        self.client(provider).download_file(stored.bucket, stored.key, str(partial))
        partial.replace(target)
        return target

    def fetch(self, url: str, target: Path) -> Path:
        """Download an `s3://bucket/key` (the deployment bucket's image file) once."""
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not target.exists():
            partial = target.with_suffix(".part")
            self.client("s3").download_file(bucket, check_object_key(key), str(partial))
            partial.rename(target)
        return target

    def upload_outputs(self, folder: Path, request_id: str) -> list[str]:
        """Upload every regular file under `folder` to each output that accepts it."""
        uploaded = []
        for relative, path in output_files(folder):
            for output in self.config.outputs:
                if not output.accepts(relative):
                    continue
                bucket, key = output_key(output.path, relative, self.config.name, request_id)
                self.client(output.storage_provider).upload_file(str(path), bucket, key)
                uploaded.append(f"{output.storage_provider}://{bucket}/{key}")
                log.info("uploaded %s", uploaded[-1])
        return uploaded


def read_credentials(name: str) -> dict[str, Any]:
    """The SecureString `name`, decrypted and parsed; a ConfigError saying what the role needs
    when it cannot be read."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        raise ConfigError(f"cannot read the storage credentials {name}: "
                          f"{exc.response.get('Error', {}).get('Code', exc)}; the function's "
                          "role needs ssm:GetParameter on it (scar-ci's own role has it), and "
                          "the parameter must exist (deploy again)") from None
    except BotoCoreError as exc:
        raise ConfigError(f"cannot read the storage credentials {name}: {exc}") from None
    try:
        credentials = json.loads(value["Parameter"]["Value"])
    except ValueError:
        credentials = None
    if not isinstance(credentials, dict):
        raise ConfigError(f"the storage credentials {name} are not a JSON object; deploy again")
    return credentials


def output_files(folder: Path) -> list[tuple[str, Path]]:
    """(relative posix path, file) for regular files only: symlinks never leak host files."""
    found = []
    for dirpath, _dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(names):
            path = Path(dirpath) / name
            if stat.S_ISREG(path.lstat().st_mode):
                found.append((path.relative_to(folder).as_posix(), path))
            else:
                log.warning("not uploading %s: not a regular file", path.relative_to(folder))
    return sorted(found)
