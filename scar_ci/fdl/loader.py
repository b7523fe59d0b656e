"""`load_fdl`: read, merge the defaults, validate everything, build the model; no network."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from scar_ci.fdl.checks import capacity_notices, check_rules
from scar_ci.fdl.config import scar_config
from scar_ci.fdl.defaults import builtin_defaults
from scar_ci.fdl.errors import FDLError, Problem
from scar_ci.fdl.located import COMMAND_LINE, Located, Position, located_everywhere, overlay
from scar_ci.fdl.model import Fdl, build_fdl
from scar_ci.fdl.notices import tell
from scar_ci.fdl.paths import repository_root
from scar_ci.fdl.scar_values import take_scar_values
from scar_ci.fdl.schema import check_schema
from scar_ci.fdl.text_file import read_small_text
from scar_ci.fdl.unsupported import check_supported
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

    `config_path` is a SCAR configuration file (default: SCAR's own, see `scar_config`);
    `overrides` is shaped like one `functions.aws` item (e.g. `{"lambda": {"memory": 1024}}`)
    and wins over the FDL for every function. Notices (values taken as SCAR meant them) are
    printed on stderr, once each.
    """
    name = str(path)
    fdl = Path(path)
    doc, problems = _read_fdl(fdl, name)
    if doc is None or (too_many := _too_many_functions(doc, name)):
        raise FDLError(name, problems + (too_many if doc else []))
    return _load(doc, problems, fdl, name, config_path, overrides)


def load_command_line(
    overrides: Mapping[str, Any], *, config_path: StrPath | None = None,
) -> Fdl:
    """One function described by command-line flags alone (SCAR's `init -n NAME -i IMAGE`),
    over the configuration file's defaults; its files are relative to the current folder."""
    doc = Located({"functions": {"aws": [{"lambda": {}}]}})
    return _load(doc, [], Path.cwd() / COMMAND_LINE, COMMAND_LINE, config_path, overrides)


def _load(doc: Located, problems: list[Problem], fdl: Path, name: str,
          config_path: StrPath | None, overrides: Mapping[str, Any] | None) -> Fdl:
    defaults = Located(builtin_defaults())
    config = scar_config(config_path)
    if config is not None:
        problems += config.problems
        defaults = overlay(defaults, config.function_defaults)
    top = located_everywhere(copy.deepcopy(dict(overrides or {})), Position(COMMAND_LINE))
    _apply_defaults(doc, defaults, top)
    fallback = Position(name)
    notices = [*take_scar_values(doc, fallback), *capacity_notices(doc, fallback)]
    repository = repository_root(fdl.parent)
    reported = {p.path for p in problems}  # a value the YAML reading refused is not judged
    config_doc = config.located if config is not None and not config.problems else None
    problems += [p for p in (*check_schema(doc, fallback),
                             *check_rules(doc, fdl, repository, fallback),
                             *check_supported(doc, config_doc, name, fallback))
                 if p.path not in reported]
    if problems:
        raise FDLError(name, problems)
    if config is not None:
        notices = [_in_config_terms(n, config.name) for n in notices]
    tell(notices)
    return build_fdl(fdl.resolve(), repository, doc, name,
                     dict(config.oscar_clusters) if config else None, tuple(notices))


def _in_config_terms(notice: Problem, config_name: str) -> Problem:
    """A notice about a configuration file's value names its key there (`aws.lambda.runtime`),
    not the function it reached."""
    path = notice.path
    if notice.position.file == config_name and path[:2] == ("functions", "aws"):
        return Problem(notice.position, ("aws", *path[3:]), notice.message)
    return notice


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
