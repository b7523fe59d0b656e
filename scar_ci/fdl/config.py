"""SCAR's configuration file (`scar.cfg`, JSON) as SCAR writes it, read once for every use.

`scar_config()` is the one entry point: the FDL loader takes its `aws` sections as function
defaults, OSCAR deployments take its `oscar.<cluster>` sections (credentials and service
defaults per cluster).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import Located, Position
from scar_ci.fdl.scar_values import take_scar_values
from scar_ci.fdl.schema import check_schema
from scar_ci.fdl.text_file import read_small_text
from scar_ci.fdl.yaml_loader import parse_yaml

# SCAR's variable naming the folder of scar.cfg (default ~/.scar).
FOLDER_VARIABLE = "SCAR_CONFIG_FOLDER"
FILE_NAME = "scar.cfg"

# The parts of the configuration file's `aws` section that are defaults for every function.
FUNCTION_SECTIONS = ("lambda", "iam", "api_gateway", "cloudwatch", "ecr", "batch")


def default_config_path() -> Path:
    """Where SCAR keeps its configuration file: `$SCAR_CONFIG_FOLDER/scar.cfg`, else
    `~/.scar/scar.cfg`."""
    folder = os.environ.get(FOLDER_VARIABLE)
    return (Path(folder) if folder else Path.home() / ".scar") / FILE_NAME


@dataclass(frozen=True)
class ScarConfig:
    """A configuration file: its data with positions, and its problems (none when usable)."""

    name: str
    located: Located
    problems: tuple[Problem, ...] = ()

    @property
    def function_defaults(self) -> Located:
        """The `aws` sections that are defaults for every function (none when it has problems:
        each problem is then reported once, against this file)."""
        if self.problems:
            return Located({})
        aws = self.located.subtree(("aws",))
        section = {key: aws.data[key] for key in FUNCTION_SECTIONS if key in aws.data}
        return Located(
            section,
            {p: pos for p, pos in aws.values.items() if not p or p[0] in section},
            {p: pos for p, pos in aws.keys.items() if p[0] in section},
        )

    @property
    def oscar_clusters(self) -> Mapping[str, Mapping[str, Any]]:
        """`oscar.<cluster-id>`: endpoint, credentials and service defaults, by cluster id."""
        if self.problems:
            return {}
        return dict(self.located.data.get("oscar") or {})

    def position_of(self, path: tuple[str | int, ...]) -> Position:
        """Where a value of this file is written (e.g. `('oscar', 'my_oscar', 'endpoint')`)."""
        return self.located.value_position(path, Position(self.name))


def scar_config(config_path: str | PathLike[str] | None = None) -> ScarConfig | None:
    """The configuration file given (a missing one is a problem), else SCAR's default one
    when it exists, else None."""
    if config_path is not None:
        path = Path(config_path)
        if not path.exists():
            return ScarConfig(str(config_path), Located({}),
                              (Problem(Position(str(config_path)), (),
                                       "configuration file not found"),))
        return _read(path, str(config_path))
    path = default_config_path()
    return _read(path, str(path)) if path.is_file() else None


def _read(path: Path, name: str) -> ScarConfig:
    text, problem = read_small_text(path, "a configuration file", "JSON")
    if text is None:
        return ScarConfig(name, Located({}), (Problem(Position(name), (), str(problem)),))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return ScarConfig(name, Located({}), (Problem(Position(name, error.lineno, error.colno),
                                                      (), f"not valid JSON: {error.msg}"),))
    located, problems = parse_yaml(text, name)  # JSON is YAML: positions, duplicate keys
    if located is None or located.data != data:
        located, problems = Located(data), []
    take_scar_values(located, Position(name))  # log levels; the rest is judged per function
    _unset_empty_clusters(located.data)
    problems += check_schema(located, Position(name, 1, 1), "config_file")
    return ScarConfig(name, located, tuple(problems))


def _unset_empty_clusters(data: Any) -> None:
    """SCAR's default writes `oscar.my_oscar` with empty endpoint and credentials: a cluster
    not configured yet. Empty strings there are unset values."""
    clusters = data.get("oscar") if isinstance(data, dict) else None
    for settings in (clusters.values() if isinstance(clusters, dict) else ()):
        if isinstance(settings, dict):
            for key in [k for k, v in settings.items() if v == ""]:
                del settings[key]
