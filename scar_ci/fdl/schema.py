"""The FDL JSON Schema, and its errors turned into `key.path: what is wrong` problems."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import KeyPath, Located, Position, quoted, walk
from scar_ci.fdl.secret_fields import is_secret_path

SCHEMA_FILE = "fdl.schema.json"

_JSON_TYPES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false", "null": "nothing",
}


@cache
def fdl_schema() -> dict[str, Any]:
    """The FDL schema (draft 2020-12) as shipped in the package."""
    return json.loads(Path(__file__).with_name(SCHEMA_FILE).read_text("utf-8"))


@cache
def _validator(definition: str | None) -> jsonschema.Draft202012Validator:
    schema = fdl_schema()
    if definition is not None:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"],
                  "$ref": f"#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema)


def check_schema(doc: Located, fallback: Position, definition: str | None = None) -> list[Problem]:
    """Problems of `doc` against the FDL schema, or against one of its `$defs`."""
    problems: list[Problem] = []
    for error in _validator(definition).iter_errors(doc.data):
        problems.extend(_problems(error, doc, fallback))
    return list(dict.fromkeys(problems))


def _problems(error: ValidationError, doc: Located, fallback: Position) -> Iterator[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-messages", {}).get(error.validator)
    if custom:
        yield Problem(doc.key_position(path, fallback), path, custom)
    elif error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                key_path = (*path, key)
                yield Problem(doc.key_position(key_path, fallback), key_path,
                              f"unknown key; {_suggestion(str(key), known)}")
    elif error.validator == "required":
        for key in error.validator_value:
            if key not in error.instance:
                yield Problem(doc.key_position(path, fallback), path,
                              f"missing required key '{key}'")
    elif "propertyNames" in error.schema_path:
        key_path = (*path, error.instance)
        hint = schema.get("x-hint", "")
        yield Problem(doc.key_position(key_path, fallback), key_path,
                      f"{quoted(error.instance)} is not a valid key here; use {hint}")
    elif _holds_secret(path, error.instance):
        yield Problem(doc.value_position(path, fallback), path, _describe_secret(error))
    else:
        yield Problem(doc.value_position(path, fallback), path, _describe(error, schema))


def _holds_secret(path: KeyPath, value: Any) -> bool:
    """Whether the value at `path` is a secret field's or has one inside."""
    return is_secret_path(path) or any(is_secret_path(inner) for inner, _ in walk(value))


def _describe_secret(error: ValidationError) -> str:
    """What is wrong with a secret field's value, without showing it."""
    if error.validator == "type":
        wanted = [error.validator_value] if isinstance(error.validator_value, str) else (
            error.validator_value)
        quote = "; put it in quotes" if "string" in wanted else ""
        return (f"expected {' or '.join(_JSON_TYPES[t] for t in wanted)}, got "
                f"{_kind(error.instance)} (a secret: its value is not shown){quote}")
    return f"not valid here ({error.validator}; a secret: its value is not shown)"


def _kind(value: Any) -> str:
    for name, types in (("boolean", bool), ("integer", int), ("number", float),
                        ("object", dict), ("array", list), ("null", type(None))):
        if isinstance(value, types):
            return _JSON_TYPES[name]
    return _JSON_TYPES["string"]


def _suggestion(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(known) if known else "no keys are allowed here"


def _describe(error: ValidationError, schema: dict[str, Any]) -> str:
    """A short sentence for one failed keyword, with the offending value."""
    value, limit = error.instance, error.validator_value
    unit = f" ({schema['x-unit']})" if "x-unit" in schema else ""
    match error.validator:
        case "type":
            wanted = [limit] if isinstance(limit, str) else limit
            quote = ("; put it in quotes if it is text"
                     if "string" in wanted and isinstance(value, bool | int | float) else "")
            return (f"expected {' or '.join(_JSON_TYPES[t] for t in wanted)}, "
                    f"got {_show(value)}{quote}")
        case "minimum":
            return f"{value} is below the minimum {limit}{unit}"
        case "maximum":
            return f"{value} is above the maximum {limit}{unit}"
        case "enum":
            return f"{_show(value)} is not one of: {', '.join(map(str, limit))}"
        case "pattern":
            return f"{quoted(value)} is not valid; use {schema.get('x-hint', limit)}"
        case "minLength":
            return "must not be empty"
        case "minItems":
            return f"needs at least {limit} item{'s' if limit != 1 else ''}"
        case "maxItems":
            return f"{len(value)} {schema.get('x-unit', 'item')}s, at most {limit} allowed"
        case "uniqueItems":
            return "items must not repeat"
        case "minProperties":
            return f"needs at least {limit} key{'s' if limit != 1 else ''}"
    return error.message


def _show(value: Any) -> str:
    """A value as YAML shows it."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return quoted(value)
    return str(value)
