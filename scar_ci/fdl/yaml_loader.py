"""YAML (and JSON) to plain data, keeping the line and column of every key and value.

PyYAML composes the node graph (which carries marks); the walk below turns it into dicts,
lists and scalars itself so that it can record positions, refuse duplicate keys, stop alias
bombs and keep dates as the strings the user wrote.
"""

from __future__ import annotations

from typing import Any

import yaml

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import KeyPath, Located, Position, quoted
from scar_ci.fdl.secret_fields import secret_values
from scar_ci.secret_sinks import report_secrets

MAX_NODES = 100_000

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Loader(yaml.SafeLoader):
    """A safe loader: only standard tags, no Python objects."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same with libyaml's parser (four times faster) when PyYAML was built with it."""


def parse_yaml(text: str, name: str) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML document; returns the data (None when unusable) and the problems found.
    The values of its secret fields go to the secret sinks at once (fdl/secret_fields.py).

    libyaml parses; a text it refuses is parsed again by PyYAML's own parser, whose messages
    are the ones users see (they name the construct, libyaml's do not always).
    """
    loader: yaml.SafeLoader = _FastLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        loader.dispose()
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            return None, [_syntax_problem(error, name)]
        except yaml.YAMLError as error:
            return None, [Problem(Position(name, 1, 1), (), f"not valid YAML: {error}")]
    finally:
        loader.dispose()
    if root is None:
        return None, [Problem(Position(name, 1, 1), (),
                              "the file is empty; an FDL starts with 'functions:'")]
    walker = _Walker(name, loader)
    try:
        data = walker.value(root, (), ())
    except _TooBig:
        too_big = f"the file expands to more than {MAX_NODES} values (too many aliases)"
        return None, [Problem(_position(name, root.start_mark), (), too_big)]
    report_secrets(secret_values(data))  # masked before any problem can be printed
    return Located(data, walker.values, walker.keys), walker.problems


def _syntax_problem(error: yaml.MarkedYAMLError, name: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    what = " ".join(part for part in (error.context, error.problem) if part)
    position = _position(name, mark) if mark else Position(name, 1, 1)
    return Problem(position, (), f"YAML syntax error: {what}")


def _position(name: str, mark: yaml.Mark) -> Position:
    return Position(name, mark.line + 1, mark.column + 1)


class _TooBig(Exception):
    pass


class _Walker:
    def __init__(self, name: str, loader: _Loader) -> None:
        self.name = name
        self.loader = loader
        self.values: dict[KeyPath, Position] = {}
        self.keys: dict[KeyPath, Position] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.own_keys: dict[int, set[int]] = {}  # per mapping: its keys before `<<` merging

    def value(self, node: yaml.Node, path: KeyPath, active: tuple[int, ...]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        self.values[path] = _position(self.name, node.start_mark)
        if id(node) in active:
            self.problems.append(Problem(self.values[path], path, "recursive alias"))
            return None
        active = (*active, id(node))
        if node.tag not in _COLLECTION_TAGS and not isinstance(node, yaml.ScalarNode):
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problems.append(Problem(self.values[path], path, f"unsupported tag {quoted(tag)}"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, active)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i), active) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath, active: tuple[int, ...]) -> dict:
        own = self.own_keys.setdefault(id(node), {id(key) for key, _ in node.value})
        try:
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        except yaml.MarkedYAMLError as error:
            self.problems.append(_syntax_problem(error, self.name))
        result: dict[str, Any] = {}
        merged: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(_position(self.name, key_node.start_mark), path,
                                             "a key must be a plain word, not a list or mapping"))
                continue
            key = str(self._scalar(key_node))
            key_path = (*path, key)
            key_position = _position(self.name, key_node.start_mark)
            if id(key_node) not in own:
                merged.add(key)
                self.keys[key_path] = key_position
            elif key in result and key not in merged:
                first = self.keys[key_path]
                self.problems.append(Problem(
                    key_position, key_path, f"duplicate key; first defined on line {first.line}"))
            else:
                merged.discard(key)
                self.keys[key_path] = key_position
            result[key] = self.value(value_node, key_path, active)
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _TIMESTAMP:
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as error:
            self.problems.append(_syntax_problem(error, self.name))
            return None
