"""Shared by the deploy tests: FDL files written for a test, and deploys through the engine."""

from __future__ import annotations

import io
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.deploy.plan import Plan
from scar_ci.fdl import load_fdl
from scar_ci.package.image.builder_choice import Builder
from scar_ci.scopes.scope import Scope

SCRIPT = "#!/bin/sh\ncat \"$INPUT_FILE_PATH\" > \"$TMP_OUTPUT_DIR/out\"\n"


def function(name: str, bucket: str, *, inputs: str = "input", outputs: str = "output",
             **settings: Any) -> dict[str, Any]:
    """One FDL function reading bucket/<inputs> and writing bucket/<outputs>."""
    item = {"lambda": {
        "name": name, "init_script": "run.sh", "container": {"image": "scar-test/busybox:1"},
        "input": [{"storage_provider": "s3", "path": f"{bucket}/{inputs}"}],
        "output": [{"storage_provider": "s3", "path": f"{bucket}/{outputs}"}],
        **settings.pop("lambda_settings", {}),
    }}
    item.update(settings)
    return item


LAB_MINIO = {"minio": {"lab": {"endpoint": "https://minio.example.org",
                               "access_key": "AKIALAB", "secret_key": "s3cr3t-lab-key"}}}


def write_fdl(folder: Path, functions: list[dict[str, Any]],
              storage_providers: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.sh").write_text(SCRIPT)
    path = folder / "scar.yaml"
    document: dict[str, Any] = {"functions": {"aws": functions}}
    if storage_providers:
        document["storage_providers"] = storage_providers
    path.write_text(yaml.safe_dump(document))
    return path


def deploy(path: Path, scope: Scope, aws: Aws | None = None, *,
           builder: Builder = "daemonless", say: Callable[[str], None] = lambda _: None
           ) -> tuple[Plan, Aws]:
    """Plan and apply `path` in `scope` (image functions built by `builder`, progress to
    `say`); returns the plan and the Aws that logged every call."""
    aws = aws or Aws()
    plan, _ = engine.deploy(load_fdl(path), scope, aws, say=say, builder=builder)
    return plan, aws


def teardown(scope: Scope, aws: Aws | None = None, *, delete_data: bool = True) -> Aws:
    aws = aws or Aws()
    engine.teardown(scope, aws, delete_data=delete_data, say=lambda _: None)
    return aws


def verbs(plan: Plan) -> list[tuple[str, str, str]]:
    return [(c.verb.value, c.kind, c.name) for c in plan.changes]


def package_file(function_name: str, name: str) -> bytes:
    """One file of the deployed function's package, as Lambda hands it out."""
    location = boto3.client("lambda").get_function(FunctionName=function_name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as response:  # noqa: S310 - LocalStack
        return zipfile.ZipFile(io.BytesIO(response.read())).read(name)
