"""Built-in defaults under the FDL and its configuration file (scar_ci/fdl/config.py).

Precedence, highest first: command line > FDL > configuration file > built-in.
"""

from __future__ import annotations

import os
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_RUNTIME = "python3.12"

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
