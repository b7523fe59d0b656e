"""SCAR's values that scar-ci takes as SCAR meant them, before the schema judges the document.

SCAR upper-cases log levels; its configuration file (SCAR 4.3.1's default and older ones)
brings a runtime AWS Lambda no longer creates, the udocker locations of SCAR's own supervisor
layer and the version of that layer. Each is turned into what scar-ci deploys, and what
changes meaning is said in one notice (a Problem at the value's place).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scar_ci.fdl.defaults import DEFAULT_RUNTIME
from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import KeyPath, Located, Position, lookup, quoted

# Runtimes AWS Lambda no longer creates functions with (deprecated, then blocked for create).
RETIRED_RUNTIMES = frozenset({"python3.6", "python3.7", "python3.8", "python3.9"})

# What SCAR's configuration file sets for its own supervisor layer's udocker.
SCAR_UDOCKER_VARIABLES = {
    "UDOCKER_BIN": "/opt/udocker/bin/",
    "UDOCKER_LIB": "/opt/udocker/lib/",
    "UDOCKER_DIR": "/tmp/shared/udocker",  # noqa: S108 (SCAR's value, recognised, not used)
    "UDOCKER_EXEC": "/opt/udocker/udocker.py",
}

# SCAR's defaults for its supervisor: scar-ci deploys its own, so only other values are worth
# a notice. `layer_name` takes effect (it names scar-ci's layer), except SCAR's own name, which
# stands for scar-ci's default layer: scar-ci never publishes versions into SCAR's layer.
SCAR_SUPERVISOR = {"version": "latest", "license_info": "Apache 2.0"}
SCAR_LAYER_NAME = "faas-supervisor"


def take_scar_values(doc: Located, fallback: Position) -> list[Problem]:
    """Normalise the merged document in place; the notices about what changed meaning."""
    notices: list[Problem] = []
    for _, section in _sections(doc.data, "log_level"):
        if isinstance(section.get("log_level"), str):
            section["log_level"] = section["log_level"].upper()
    for path, lam in _lambdas(doc.data):
        notices += _runtime(doc, path, lam, fallback)
        notices += _udocker_variables(doc, path, lam, fallback)
        notices += _supervisor(doc, path, lam, fallback)
    return notices


def _lambdas(data: Any) -> Iterator[tuple[KeyPath, dict]]:
    items = lookup(data, ("functions", "aws"))
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and isinstance(item.get("lambda"), dict):
            yield ("functions", "aws", i, "lambda"), item["lambda"]


def _sections(data: Any, key: str) -> Iterator[tuple[KeyPath, dict]]:
    """Every lambda section, OSCAR service and configuration-file cluster holding `key`."""
    yield from ((p, s) for p, s in _lambdas(data) if key in s)
    services = lookup(data, ("functions", "oscar"))
    for i, item in enumerate(services if isinstance(services, list) else []):
        for cluster, service in (item.items() if isinstance(item, dict) else ()):
            if isinstance(service, dict) and key in service:
                yield ("functions", "oscar", i, cluster), service
    clusters = lookup(data, ("oscar",))
    for cluster, settings in (clusters.items() if isinstance(clusters, dict) else ()):
        if isinstance(settings, dict) and key in settings:
            yield ("oscar", cluster), settings


def _runtime(doc: Located, path: KeyPath, lam: dict, fallback: Position) -> Iterator[Problem]:
    runtime = lam.get("runtime")
    if runtime in RETIRED_RUNTIMES:
        lam["runtime"] = DEFAULT_RUNTIME
        where = (*path, "runtime")
        yield Problem(doc.value_position(where, fallback), where,
                      f"AWS Lambda no longer creates {runtime} functions: deploying "
                      f"{DEFAULT_RUNTIME} (the supervisor runs on it; write "
                      f"'runtime: {DEFAULT_RUNTIME}' to silence this notice)")


def _udocker_variables(doc: Located, path: KeyPath, lam: dict,
                       fallback: Position) -> Iterator[Problem]:
    variables = lookup(lam, ("environment", "Variables"))
    if not isinstance(variables, dict):
        return
    scar_own = [k for k, v in SCAR_UDOCKER_VARIABLES.items() if variables.get(k) == v]
    for name in scar_own:
        del variables[name]
    if scar_own:
        where = (*path, "environment", "Variables", scar_own[0])
        yield Problem(doc.value_position(where, fallback), where[:-1],
                      f"{', '.join(scar_own)}: the udocker locations of SCAR's supervisor "
                      "layer are not set; scar-ci's supervisor places udocker itself")


def _supervisor(doc: Located, path: KeyPath, lam: dict, fallback: Position) -> Iterator[Problem]:
    supervisor = lam.get("supervisor")
    if not isinstance(supervisor, dict):
        return
    for key, default in SCAR_SUPERVISOR.items():
        value = supervisor.get(key)
        if isinstance(value, str) and value != default:
            where = (*path, "supervisor", key)
            yield Problem(doc.value_position(where, fallback), where,
                          f"{quoted(value)} is not used: scar-ci deploys its own supervisor "
                          "(its layer's sha256 is shown by 'scar-ci ls'); remove the key "
                          "to silence this notice")
