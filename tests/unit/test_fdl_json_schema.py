"""scar_ci.fdl.json_schema judges FDL documents as jsonschema does: the same keywords fail at
the same document and schema paths, on every FDL the repository holds and on those documents
with any node replaced by arbitrary data (hypothesis)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scar_ci.fdl.json_schema import ANNOTATIONS, KEYWORDS, Validator
from scar_ci.fdl.schema import fdl_schema

ROOT = Path(__file__).resolve().parents[2]


def _documents() -> list[Any]:
    files = [*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("tests/fdl_corpus/*.yaml"),
             *ROOT.glob("tests/data/scar-examples/**/*.yaml")]
    found = []
    for path in sorted(files):
        try:
            found.append(yaml.safe_load(path.read_text()))
        except yaml.YAMLError:
            continue  # the corpus's broken YAML: nothing for the schema
    return [doc for doc in found if isinstance(doc, dict)]


DOCUMENTS = _documents()
CONFIG = json.loads((ROOT / "tests/data/scar-config/scar-4.3.1.cfg").read_text())


def _schema(definition: str | None) -> dict[str, Any]:
    schema = fdl_schema()
    if definition is None:
        return schema
    return {"$schema": schema["$schema"], "$defs": schema["$defs"],
            "$ref": f"#/$defs/{definition}"}


def _verdicts(errors: Iterator[Any]) -> Counter:
    return Counter((tuple(e.absolute_path), e.validator, tuple(e.schema_path)) for e in errors)


def _same_verdicts(doc: Any, definition: str | None = None) -> None:
    schema = _schema(definition)
    theirs = _verdicts(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert _verdicts(Validator(schema).iter_errors(doc)) == theirs


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object of the FDL schema (not the names under `properties`)."""
    if isinstance(node, dict):
        yield node
        for keyword, value in node.items():
            if keyword in ("properties", "$defs"):
                for inner in value.values():
                    yield from _schema_nodes(inner)
            elif keyword in ("items", "additionalProperties", "propertyNames", "not"):
                yield from _schema_nodes(value)
            elif keyword in ("allOf", "anyOf"):
                for inner in value:
                    yield from _schema_nodes(inner)


def test_the_schema_uses_only_the_keywords_checked() -> None:
    used = {keyword for node in _schema_nodes(fdl_schema()) for keyword in node}
    assert used - ANNOTATIONS - set(KEYWORDS) == set()
    assert len(DOCUMENTS) >= 40  # the corpus was found


@pytest.mark.parametrize("index", range(len(DOCUMENTS)))
def test_every_repository_fdl_is_judged_as_jsonschema_judges_it(index: int) -> None:
    _same_verdicts(DOCUMENTS[index])


def test_scar_configuration_file_is_judged_as_jsonschema_judges_it() -> None:
    _same_verdicts(CONFIG, "config_file")
    _same_verdicts({"aws": {"lambda": {"memory": "x", "nope": 1}}, "oscar": {"b@d": {}}},
                   "config_file")


ODD_VALUES = [True, False, 0, 1, 1.0, 1.5, -2, "", "1", None, [], [1, True], {}, {"a": 1}]
KEYWORD_CASES = [{"type": kind} for kind in ("integer", "number", "string", "boolean",
                                             "object", "array", "null")] + [
    {"type": ["string", "number", "boolean"]}, {"enum": [1, "1", [1]]}, {"enum": [True]},
    {"minimum": 1}, {"maximum": 0}, {"minLength": 1}, {"minItems": 1}, {"maxItems": 1},
    {"minProperties": 1}, {"maxProperties": 0}, {"required": ["a", "b"]},
    {"pattern": "^[a-z]+$"}, {"not": {"required": ["a"]}},
    {"anyOf": [{"type": "string"}, {"required": ["a"]}]},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"additionalProperties": {"type": "integer"}}, {"additionalProperties": True},
    {"items": {"type": "boolean"}},
    {"propertyNames": {"pattern": "^b"}}]


@pytest.mark.parametrize("schema", KEYWORD_CASES, ids=json.dumps)
def test_each_keyword_on_odd_values_as_jsonschema(schema: dict[str, Any]) -> None:
    """Where Python and JSON differ: true is no number, 1.0 is an integer, true is not 1."""
    for value in ODD_VALUES:
        theirs = _verdicts(jsonschema.Draft202012Validator(schema).iter_errors(value))
        assert _verdicts(Validator(schema).iter_errors(value)) == theirs, value


def test_an_unknown_keyword_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="'oneOf' is not supported"):
        list(Validator({"oneOf": [{"type": "string"}]}).iter_errors(1))


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, inner in items:
        yield from _paths(inner, (*path, key))


def _vocabulary() -> list[str]:
    names = {key for node in _schema_nodes(fdl_schema())
             for key in node.get("properties", {})}
    return sorted(names | {"x", "A_B", "b@d", ""})


SCALARS = (st.none() | st.booleans() | st.integers(-3, 20_000)
           | st.floats(allow_nan=False, allow_infinity=False, width=32)
           | st.sampled_from(["", "s3", "us-east-1", "python3.12", "NONE", "AWS_IAM", "a/b",
                              "fn-1", "{proxy+}", "image", "512"])
           | st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(_vocabulary()), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_node_replaced_is_judged_as_jsonschema_judges_it(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(DOCUMENTS)))
    path = data.draw(st.sampled_from(list(_paths(doc))))
    value = data.draw(VALUES)
    if not path:
        doc = value
    else:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    _same_verdicts(doc)
