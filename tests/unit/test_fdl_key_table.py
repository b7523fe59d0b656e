"""docs/fdl.md's table names every key of the FDL schema and of SCAR's configuration file,
with what scar-ci does with it: a key added to the schema without a row fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scar_ci.fdl.schema import fdl_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "fdl.md"
FUNCTION_ITEM = "functions.aws[]."
# Sections of the configuration file that are function defaults: the same rows.
DEFAULT_SECTIONS = ("lambda", "iam", "api_gateway", "cloudwatch", "ecr", "batch")


def schema_keys(node: Any, path: str = "") -> Iterator[str]:
    """Every key path below `node`: `a.b`, `a[].b` for list items, `a.<id>.b` for mappings
    of user-chosen names; `$ref`s and combinators followed."""
    if not isinstance(node, dict):
        return
    defs = fdl_schema()["$defs"]
    if "$ref" in node:
        yield from schema_keys(defs[node["$ref"].rsplit("/", 1)[-1]], path)
    for sub in (*node.get("allOf", ()), *node.get("anyOf", ()), *node.get("oneOf", ())):
        yield from schema_keys(sub, path)
    for key, value in node.get("properties", {}).items():
        key_path = f"{path}.{key}" if path else key
        yield key_path
        yield from schema_keys(value, key_path)
    if isinstance(node.get("items"), dict):
        yield from schema_keys(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_keys(node["additionalProperties"], f"{path}.<id>")


def rows() -> dict[str, str]:
    """The table's rows: each key written in the first cell (several may share a row)."""
    table: dict[str, str] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) >= 2:
            config = cells[0].startswith("| config ")
            for key in re.findall(r"`([^`]+)`", cells[0]):
                table[f"config {key}" if config else key] = cells[1]
    return table


def row_for(key: str, table: dict[str, str]) -> str | None:
    """The row naming `key`, or the `prefix.*` row covering it."""
    if key in table:
        return table[key]
    return next((text for name, text in table.items()
                 if name.endswith(".*") and key.startswith(name[:-1])), None)


def wanted_keys() -> list[str]:
    schema = fdl_schema()
    keys = [k.removeprefix(FUNCTION_ITEM) for k in schema_keys(schema)
            if k != FUNCTION_ITEM.rstrip(".")]
    keys.append("functions.aws")
    for key in schema_keys(schema["$defs"]["config_file"]):
        section = key.split(".")[1] if key.startswith("aws.") and "." in key else ""
        keys.append(key.removeprefix("aws.") if section in DEFAULT_SECTIONS and
                    key.count(".") > 1 else f"config {key}")
    return list(dict.fromkeys(keys))


def test_every_schema_key_has_a_row() -> None:
    table = rows()
    missing = [key for key in wanted_keys() if row_for(key, table) is None]
    assert missing == [], f"docs/fdl.md has no row for: {missing}"


def test_the_walk_sees_nested_and_configuration_keys() -> None:
    keys = wanted_keys()
    for key in ("lambda.container.image", "lambda.input[].storage_provider",
                "batch.compute_resources.launch_template_name",
                "api_gateway.method.authorizationType", "storage_providers.s3.<id>.region",
                "config aws.s3.event", "config oscar.<id>.endpoint", "config scar.config_version"):
        assert key in keys


def test_a_key_without_a_row_is_found(monkeypatch, tmp_path: Path) -> None:
    doc = tmp_path / "fdl.md"
    doc.write_text(DOC.read_text(encoding="utf-8").replace("| `lambda.memory` |", "| x |"))
    monkeypatch.setattr(f"{__name__}.DOC", doc)
    assert row_for("lambda.memory", rows()) is None
