"""`load_fdl`: read, merge the defaults, validate everything, build the model; no network."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from scar_ci.fdl.checks import check_rules
from scar_ci.fdl.defaults import (
    builtin_defaults,
    default_config_path,
    load_config,
    oscar_section,
)
from scar_ci.fdl.errors import FDLError, Problem
from scar_ci.fdl.located import COMMAND_LINE, Located, Position, located_everywhere, overlay
from scar_ci.fdl.model import Fdl, build_fdl
from scar_ci.fdl.paths import repository_root
from scar_ci.fdl.schema import check_schema
from scar_ci.fdl.text_file import read_small_text
from scar_ci.fdl.yaml_loader import parse_yaml

StrPath = str | PathLike[str]
# Functions one list under `functions:` may hold. Validation is linear in the file's size
# (bench/validate_bench.py); this bounds its time for any file, fork pull requests' included.
MAX_FUNCTIONS = 1000


def load_fdl(
    path: StrPath,
    *,
    config_path: StrPath | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Fdl:
    """Load and validate an FDL file; raise FDLError listing every problem found.

    `config_path` is a SCAR configuration file (default: ~/.scar/scar.cfg when it exists);
    `overrides` is shaped like one `functions.aws` item (e.g. `{"lambda": {"memory": 1024}}`)
    and wins over the FDL for every function.
    """
    name = str(path)
    fdl = Path(path)
    doc, problems = _read_fdl(fdl, name)
    if doc is None or (too_many := _too_many_functions(doc, name)):
        raise FDLError(name, problems + (too_many if doc else []))
    defaults = Located(builtin_defaults())
    config = _config_layer(config_path)
    if config is not None:
        layer, config_problems = config
        problems += config_problems
        defaults = overlay(defaults, layer)
    top = located_everywhere(copy.deepcopy(dict(overrides or {})), Position(COMMAND_LINE))
    _apply_defaults(doc, defaults, top)
    fallback = Position(name)
    repository = repository_root(fdl.parent)
    reported = {p.path for p in problems}  # a value the YAML reading refused is not judged
    problems += [p for p in (*check_schema(doc, fallback),
                             *check_rules(doc, fdl, repository, fallback))
                 if p.path not in reported]
    if problems:
        raise FDLError(name, problems)
    return build_fdl(fdl.resolve(), repository, doc, name,
                     oscar_section(Path(config_path) if config_path else None))


def _read_fdl(fdl: Path, name: str) -> tuple[Located | None, list[Problem]]:
    """The FDL's data (None when nothing can be validated) and its problems so far."""
    text, problem = read_small_text(fdl, "an FDL file", "YAML")
    if text is None:
        return None, [Problem(Position(name), (), str(problem))]
    doc, problems = parse_yaml(text, name)
    if doc is not None and not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else "a single value"
        problems.append(Problem(doc.value_position((), Position(name, 1, 1)), (),
                                f"expected a mapping with 'functions:' at the top, got {kind}"))
        return None, problems
    return doc, problems


def _too_many_functions(doc: Located, name: str) -> list[Problem]:
    functions = doc.data.get("functions")
    lists = functions.items() if isinstance(functions, dict) else ()
    return [Problem(doc.key_position(("functions", key), Position(name)), ("functions", key),
                    f"{len(items)} functions; an FDL file holds at most {MAX_FUNCTIONS}: "
                    f"split it into several files")
            for key, items in lists if isinstance(items, list) and len(items) > MAX_FUNCTIONS]


def _config_layer(config_path: StrPath | None) -> tuple[Located, list[Problem]] | None:
    """The configuration file's defaults: the given file, else SCAR's when it exists."""
    if config_path is not None:
        path = Path(config_path)
        if not path.exists():
            return Located({}), [Problem(Position(str(config_path)), (),
                                         "configuration file not found")]
        return load_config(path, str(config_path))
    path = default_config_path()
    return load_config(path, str(path)) if path.is_file() else None


def _apply_defaults(doc: Located, defaults: Located, top: Located) -> None:
    """Merge defaults under, and overrides over, every `functions.aws` mapping in place
    (except where `lambda` is missing: that alone is reported)."""
    functions = doc.data.get("functions")
    items = functions.get("aws") if isinstance(functions, dict) else None
    if not isinstance(items, list):
        return
    path = ("functions", "aws")
    parts = doc.children(path)
    merged = {}
    for i, item in enumerate(items):
        if isinstance(item, dict) and "lambda" in item:
            both = overlay(overlay(defaults, parts[i]), top)
            merged[i] = Located(copy.deepcopy(both.data), both.values, both.keys)
    doc.replace_children(path, merged)
