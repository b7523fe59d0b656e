"""The part of JSON Schema (draft 2020-12) that the FDL schema uses, checked without jsonschema.

Importing jsonschema (referencing, attrs, its format checkers) took a third of `scar-ci
validate`; the FDL schema needs a handful of keywords, checked here as jsonschema checks them
(the same keywords failing at the same places: tests/unit/test_fdl_json_schema.py compares
the two). A schema with any other keyword is refused, so that none is ever silently ignored.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

Path = tuple[str | int, ...]
# Keywords that only annotate: read by scar_ci.fdl.schema's messages, or by people.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description",
                         "x-hint", "x-unit", "x-messages"})


class Failure(NamedTuple):
    """One keyword that failed, with the attributes of jsonschema's ValidationError."""

    validator: str  # the keyword
    validator_value: Any
    instance: Any
    schema: dict[str, Any]
    absolute_path: Path  # where in the document
    schema_path: Path  # where in the schema, without the `$ref`s, as jsonschema has it
    message: str


class Validator:
    """Checks documents against `root`, whose `$ref`s point inside it (`#/$defs/...`)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def iter_errors(self, instance: Any) -> Iterator[Failure]:
        """Every failure, in jsonschema's order (keywords as the schema lists them)."""
        return self.descend(instance, self.root, (), ())

    def descend(self, instance: Any, schema: Any, path: Path, at: Path) -> Iterator[Failure]:
        """The failures of `instance` (at `path`) against `schema` (at `at`)."""
        if schema is True:
            return
        if schema is False:
            yield Failure("false", False, instance, {}, path, at,
                          f"False schema does not allow {instance!r}")
            return
        for keyword, value in schema.items():
            if keyword not in ANNOTATIONS:
                check = KEYWORDS.get(keyword)
                if check is None:
                    raise ValueError(f"JSON Schema keyword {keyword!r} is not supported here")
                yield from check(self, value, instance, schema, path, at)

    def is_valid(self, instance: Any, schema: Any) -> bool:
        return next(self.descend(instance, schema, (), ()), None) is None

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only references inside the schema are supported, not {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


Check = Callable[[Validator, Any, Any, dict[str, Any], Path, Path], Iterator[Failure]]


def _assertion(keyword: str, test: Callable[[Any, Any], Iterator[str]]) -> Check:
    """A keyword that judges the instance itself: `test(value, instance)` yields messages."""
    def check(validator: Validator, value: Any, instance: Any, schema: dict[str, Any],
              path: Path, at: Path) -> Iterator[Failure]:
        for message in test(value, instance):
            yield Failure(keyword, value, instance, schema, path, (*at, keyword), message)

    return check


def _is(instance: Any, kind: str) -> bool:
    """Draft 2020-12's types: a boolean is no number, 1.0 is an integer."""
    if isinstance(instance, bool):
        return kind == "boolean"
    match kind:
        case "integer":
            return isinstance(instance, int) or (isinstance(instance, float)
                                                 and instance.is_integer())
        case "number":
            return isinstance(instance, int | float)
    return isinstance(instance, _PYTHON_TYPES[kind])


_PYTHON_TYPES = {"string": str, "object": dict, "array": list, "null": type(None),
                 "boolean": bool}


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: true is not 1, containers compare item by item."""
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    return one == two


def _type(kinds: str | list[str], instance: Any) -> Iterator[str]:
    wanted = [kinds] if isinstance(kinds, str) else kinds
    if not any(_is(instance, kind) for kind in wanted):
        yield f"{instance!r} is not of type {', '.join(map(repr, wanted))}"


def _enum(choices: list[Any], instance: Any) -> Iterator[str]:
    if not any(_equal(instance, choice) for choice in choices):
        yield f"{instance!r} is not one of {choices!r}"


def _required(keys: list[str], instance: Any) -> Iterator[str]:
    if isinstance(instance, dict):
        yield from (f"{key!r} is a required property" for key in keys if key not in instance)


def _pattern(pattern: str, instance: Any) -> Iterator[str]:
    if isinstance(instance, str) and not re.search(pattern, instance):
        yield f"{instance!r} does not match {pattern!r}"


def _bound(kinds: tuple[type, ...], fails: Callable[[Any, Any], bool], says: str,
           size: Callable[[Any], Any] = len) -> Callable[[Any, Any], Iterator[str]]:
    """minimum, minLength, maxItems...: `fails(size(instance), limit)` on one kind of value."""
    def test(limit: Any, instance: Any) -> Iterator[str]:
        if (isinstance(instance, kinds) and not isinstance(instance, bool)
                and fails(size(instance), limit)):
            yield f"{instance!r} {says} {limit!r}"

    return test


def _number(value: Any) -> Any:
    return value


def _properties(validator: Validator, properties: dict[str, Any], instance: Any,
                schema: dict[str, Any], path: Path, at: Path) -> Iterator[Failure]:
    if isinstance(instance, dict):
        for key, subschema in properties.items():
            if key in instance:
                yield from validator.descend(instance[key], subschema, (*path, key),
                                             (*at, "properties", key))


def _additional_properties(validator: Validator, allowed: Any, instance: Any,
                           schema: dict[str, Any], path: Path, at: Path) -> Iterator[Failure]:
    if not isinstance(instance, dict):
        return
    extras = [key for key in instance if key not in schema.get("properties", {})]
    if isinstance(allowed, dict):
        for key in extras:
            yield from validator.descend(instance[key], allowed, (*path, key),
                                         (*at, "additionalProperties"))
    elif not allowed and extras:
        yield Failure("additionalProperties", allowed, instance, schema, path,
                      (*at, "additionalProperties"),
                      f"Additional properties are not allowed ({', '.join(map(repr, extras))} "
                      f"{'was' if len(extras) == 1 else 'were'} unexpected)")


def _items(validator: Validator, items: Any, instance: Any, schema: dict[str, Any],
           path: Path, at: Path) -> Iterator[Failure]:
    if isinstance(instance, list):
        for index, item in enumerate(instance):
            yield from validator.descend(item, items, (*path, index), (*at, "items"))


def _property_names(validator: Validator, names: Any, instance: Any, schema: dict[str, Any],
                    path: Path, at: Path) -> Iterator[Failure]:
    if isinstance(instance, dict):
        for key in instance:
            yield from validator.descend(key, names, path, (*at, "propertyNames"))


def _all_of(validator: Validator, schemas: list[Any], instance: Any, schema: dict[str, Any],
            path: Path, at: Path) -> Iterator[Failure]:
    for index, subschema in enumerate(schemas):
        yield from validator.descend(instance, subschema, path, (*at, "allOf", index))


def _any_of(validator: Validator, schemas: list[Any], instance: Any, schema: dict[str, Any],
            path: Path, at: Path) -> Iterator[Failure]:
    if not any(validator.is_valid(instance, subschema) for subschema in schemas):
        yield Failure("anyOf", schemas, instance, schema, path, (*at, "anyOf"),
                      f"{instance!r} is not valid under any of the given schemas")


def _not(validator: Validator, refused: Any, instance: Any, schema: dict[str, Any],
         path: Path, at: Path) -> Iterator[Failure]:
    if validator.is_valid(instance, refused):
        yield Failure("not", refused, instance, schema, path, (*at, "not"),
                      f"{instance!r} should not be valid under {refused!r}")


def _ref(validator: Validator, ref: str, instance: Any, schema: dict[str, Any],
         path: Path, at: Path) -> Iterator[Failure]:
    return validator.descend(instance, validator.resolve(ref), path, at)


KEYWORDS: dict[str, Check] = {
    "$ref": _ref,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "items": _items,
    "propertyNames": _property_names,
    "allOf": _all_of,
    "anyOf": _any_of,
    "not": _not,
    "type": _assertion("type", _type),
    "enum": _assertion("enum", _enum),
    "required": _assertion("required", _required),
    "pattern": _assertion("pattern", _pattern),
    "minimum": _assertion("minimum", _bound((int, float), operator.lt,
                                            "is less than the minimum of", _number)),
    "maximum": _assertion("maximum", _bound((int, float), operator.gt,
                                            "is greater than the maximum of", _number)),
    "minLength": _assertion("minLength", _bound((str,), operator.lt, "is shorter than")),
    "minItems": _assertion("minItems", _bound((list,), operator.lt, "has fewer items than")),
    "maxItems": _assertion("maxItems", _bound((list,), operator.gt, "has more items than")),
    "minProperties": _assertion("minProperties", _bound((dict,), operator.lt,
                                                        "has fewer properties than")),
    "maxProperties": _assertion("maxProperties", _bound((dict,), operator.gt,
                                                        "has more properties than")),
}
