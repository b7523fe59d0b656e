"""Data loaded from a file together with where each key and value came from."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]

COMMAND_LINE = "<command line>"

# Plain keys; `"?` keeps SCAR's documented `timeout_threshold"` typo readable.
_PLAIN_KEY = re.compile(r'[A-Za-z0-9_+-]+"?')
_SHOWN_CHARACTERS = 200  # longer than any ARN, image name or path a user means


def quoted(value: object) -> str:
    """A value from the user's file for a message: repr'd (no raw newline or control
    character), a long text cut to its start and its length."""
    if isinstance(value, str) and len(value) > _SHOWN_CHARACTERS:
        start = repr(value[:_SHOWN_CHARACTERS])
        return f"{start[:-1]}…{start[-1]} ({len(value)} characters)"
    return repr(value)


@dataclass(frozen=True)
class Position:
    """A place in a source: a file (or the command line) and, when known, a 1-based line:col."""

    file: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


def format_path(path: KeyPath) -> str:
    """`('functions', 'aws', 0, 'lambda')` -> `functions.aws[0].lambda`.

    Keys come from the user's file: any but plain words are quoted, so that no newline or
    control character reaches a log (where a line could pass for a workflow command).
    """
    text = ""
    for part in path:
        if isinstance(part, int) or not _PLAIN_KEY.fullmatch(part):
            text += f"[{quoted(part)}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass
class Located:
    """Plain data (dicts, lists, scalars) plus the position of every value and every key.

    `values[path]` is where the value at `path` starts; `keys[path]` is where the mapping key
    naming it is written. Paths missing from both came from built-in defaults.
    """

    data: Any
    values: dict[KeyPath, Position] = field(default_factory=dict)
    keys: dict[KeyPath, Position] = field(default_factory=dict)

    def value_position(self, path: KeyPath, fallback: Position) -> Position:
        """Where the value at `path` (or its nearest located ancestor) is written."""
        for end in range(len(path), -1, -1):
            if (pos := self.values.get(path[:end])) is not None:
                return pos
        return fallback

    def key_position(self, path: KeyPath, fallback: Position) -> Position:
        """Where the key naming `path` is written, else its value, else the nearest ancestor's
        key or value (a mapping that only defaults filled is shown at its parent's key)."""
        for end in range(len(path), -1, -1):
            pos = self.keys.get(path[:end]) or self.values.get(path[:end])
            if pos is not None:
                return pos
        return fallback

    def subtree(self, path: KeyPath) -> Located:
        """The part of this data under `path`, with positions re-rooted (empty when absent)."""
        data: Any = self.data
        for part in path:
            in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
            if not (in_list or (isinstance(data, Mapping) and part in data)):
                return Located({})
            data = data[part]
        cut = len(path)
        return Located(
            data,
            {p[cut:]: pos for p, pos in self.values.items() if p[:cut] == path},
            {p[cut:]: pos for p, pos in self.keys.items() if p[:cut] == path and len(p) > cut},
        )

    def _at(self, path: KeyPath) -> Any:
        data = self.data
        for part in path:
            data = data[part]
        return data

    def children(self, path: KeyPath) -> dict[Any, Located]:
        """Each item of the list or mapping at `path` as its own Located (as `subtree` would
        give it), in one pass over the positions: linear, however many items there are."""
        container = self._at(path)
        keys = range(len(container)) if isinstance(container, list) else list(container)
        parts = {key: Located(container[key]) for key in keys}
        cut = len(path)
        tables = ((self.values, "values", cut + 1), (self.keys, "keys", cut + 2))
        for table, name, shortest in tables:  # a child's own key is its parent's
            for p, pos in table.items():
                if len(p) >= shortest and p[cut] in parts and p[:cut] == path:
                    getattr(parts[p[cut]], name)[p[cut + 1:]] = pos
        return parts

    def replace_children(self, path: KeyPath, new: Mapping[Any, Located]) -> None:
        """Put each `new[key]` at `path + (key,)` (which must exist), positions included, in
        one pass over the positions."""
        container = self._at(path)
        for key, other in new.items():
            container[key] = other.data
        cut = len(path)
        for table, name in ((self.values, "values"), (self.keys, "keys")):
            stale = [p for p in table if len(p) > cut + 1 and p[cut] in new and p[:cut] == path]
            for p in stale:
                del table[p]
            for key, other in new.items():
                table.update({(*path, key, *p): pos for p, pos in getattr(other, name).items()
                              if p or name == "values"})


def lookup(data: Any, keys: KeyPath) -> Any:
    """The value at `keys` in nested mappings, or None when a step is missing or not one."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def located_everywhere(data: Any, position: Position) -> Located:
    """Data whose every key and value, but not the whole, is at one position (the command line)."""
    located = Located(data)
    for path, _ in walk(data):
        if path:
            located.values[path] = position
            located.keys[path] = position
    return located


def walk(data: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every (path, value) in nested dicts and lists, parents before children."""
    yield path, data
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from walk(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk(value, (*path, index))


def overlay(base: Located, top: Located) -> Located:
    """`top` merged over `base`: mappings merge key by key, anything else in `top` wins."""
    merged = Located(_merge(base.data, top.data))
    for table, base_table, top_table in (
        (merged.values, base.values, top.values),
        (merged.keys, base.keys, top.keys),
    ):
        table.update({p: pos for p, pos in base_table.items() if _kept(p, top.data)})
        table.update(top_table)
    return merged


def _merge(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        merged = dict(base)
        for key, value in top.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return top


def _kept(path: KeyPath, top: Any) -> bool:
    """True when the base value at `path` survives the overlay of `top`."""
    node = top
    for part in path:
        if not isinstance(node, dict):
            return False
        if part not in node:
            return True
        node = node[part]
    return isinstance(node, dict)
