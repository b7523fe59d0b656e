"""Defaults under the FDL: SCAR's configuration file (`~/.scar/scar.cfg`) and built-in values.

Precedence, highest first: command line > FDL > configuration file > built-in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import Located, Position
from scar_ci.fdl.schema import check_schema
from scar_ci.fdl.text_file import read_small_text
from scar_ci.fdl.yaml_loader import parse_yaml

DEFAULT_REGION = "us-east-1"
DEFAULT_RUNTIME = "python3.12"

# The parts of the configuration file's `aws` section that are defaults for every function.
FUNCTION_SECTIONS = ("lambda", "iam", "api_gateway", "cloudwatch", "ecr", "batch")


def default_config_path() -> Path:
    """Where SCAR keeps its configuration file."""
    return Path.home() / ".scar" / "scar.cfg"


def builtin_defaults() -> dict[str, Any]:
    """SCAR's documented defaults for one `functions.aws` item.

    The region follows the standard AWS environment (AWS_REGION, AWS_DEFAULT_REGION), as set
    by configure-aws-credentials, before falling back to us-east-1. Sub-services without a
    region use the function's. No boto profile: the default credential chain is used.
    """
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return {
        "lambda": {
            "region": region or DEFAULT_REGION,
            "description": "Automatically generated lambda function",
            "execution_mode": "lambda",
            "timeout": 300,
            "memory": 512,
            "runtime": DEFAULT_RUNTIME,
            "layers": [],
            "log_level": "INFO",
            "invocation_type": "RequestResponse",
            "log_type": "Tail",
            "asynchronous": False,
            "environment": {"Variables": {}},
            "deployment": {"max_payload_size": 52_428_800, "max_s3_payload_size": 262_144_000},
            "container": {"timeout_threshold": 10, "environment": {"Variables": {}}},
            "supervisor": {"version": "latest"},
        },
        "iam": {"role": ""},
        "api_gateway": {"stage_name": "scar", "http_method": "ANY"},
        "cloudwatch": {"log_retention_policy_in_days": 30},
        "batch": {
            "vcpus": 1,
            "memory": 1024,
            "enable_gpu": False,
            "state": "ENABLED",
            "type": "MANAGED",
            "environment": {"Variables": {}},
            "compute_resources": {
                "security_group_ids": [],
                "subnets": [],
                "type": "EC2",
                "desired_v_cpus": 0,
                "min_v_cpus": 0,
                "max_v_cpus": 2,
                "instance_types": ["m3.medium"],
                "launch_template_name": "faas-supervisor",
            },
        },
    }


def load_config(path: Path, name: str) -> tuple[Located, list[Problem]]:
    """The function defaults of a SCAR configuration file (JSON), and its problems.

    A configuration file with problems contributes no defaults, so that each problem is
    reported once, against the configuration file.
    """
    text, problem = read_small_text(path, "a configuration file", "JSON")
    if text is None:
        return Located({}), [Problem(Position(name), (), str(problem))]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return Located({}), [Problem(Position(name, error.lineno, error.colno), (),
                                     f"not valid JSON: {error.msg}")]
    located, problems = parse_yaml(text, name)  # JSON is YAML: positions, duplicate keys
    if located is None or located.data != data:
        located, problems = Located(data), []
    problems += check_schema(located, Position(name, 1, 1), "config_file")
    if problems:
        return Located({}), problems
    aws = located.subtree(("aws",))
    section = {key: aws.data[key] for key in FUNCTION_SECTIONS if key in aws.data}
    return Located(
        section,
        {p: pos for p, pos in aws.values.items() if not p or p[0] in section},
        {p: pos for p, pos in aws.keys.items() if p[0] in section},
    ), []


def oscar_section(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The configuration file's `oscar` section (SCAR's: per cluster id, `endpoint`,
    `auth_user`, `auth_password`, `ssl_verify`, and `memory` / `cpu` / `log_level` defaults
    for its services); {} without a file. The one place scar-ci reads it: call `load_config`
    first, which reports its problems."""
    path = path or default_config_path()
    if not path.is_file():
        return {}
    text, _ = read_small_text(path, "a configuration file", "JSON")
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    section = data.get("oscar") if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}
