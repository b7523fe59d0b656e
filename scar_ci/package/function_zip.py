"""The function package: `scar-function.json` (the supervisor's contract), scripts, image file.

Reproducible like the supervisor layer: sorted entries, fixed timestamps and modes, fixed
compression. The same FDL gives the same bytes, so its sha256 compares with the live
function's CodeSha256 and an unchanged function gets no code update.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scar_ci.package.layer import COMPRESS_LEVEL, ZIP_EPOCH
from scar_ci.supervisor.config import CONFIG_FILE_NAME


def function_config(name: str, container: Mapping[str, Any], init_script: Path | None,
                    inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                    storage_providers: Mapping[str, Any]) -> dict[str, Any]:
    """The content of `scar-function.json` (see docs/supervisor.md)."""
    config: dict[str, Any] = {"name": name, "runtime": "udocker", "container": dict(container),
                              "input": inputs, "output": outputs}
    if init_script is not None:
        config["init_script"] = init_script.name
    if storage_providers:
        config["storage_providers"] = storage_providers
    return config


def config_json(config: Mapping[str, Any]) -> bytes:
    """`scar-function.json`'s bytes (stable for equal configurations)."""
    return json.dumps(config, indent=2, sort_keys=True).encode()


def function_zip(config: Mapping[str, Any], files: Mapping[str, Path]) -> bytes:
    """The zip: the configuration plus `files` (name in the zip -> file on disk)."""
    entries: dict[str, tuple[bytes, bool]] = {CONFIG_FILE_NAME: (config_json(config), False)}
    for name, path in files.items():
        entries[name] = (path.read_bytes(), True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            content, executable = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()
