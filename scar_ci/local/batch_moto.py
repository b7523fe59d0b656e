"""moto's server as local mode's ECR API and AWS Batch (run as a script with moto_server's
arguments, on the Python of LocalStack's venv, which has moto):

    python scar_ci/local/batch_moto.py -H 127.0.0.1 -p PORT

Two changes to moto: DescribeJobDefinitions answers a multi-node job definition with its
`nodeProperties`, as AWS Batch does (moto stores them and leaves them out); and, when local mode
sets the job environment (batch_jobs.JOB_ENV_VARIABLE), jobs run under udocker in the
execution environments' sandbox (batch_jobs) instead of through a Docker daemon.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: find scar_ci beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def with_node_properties(describe: Callable[[Any], dict[str, Any]]
                         ) -> Callable[[Any], dict[str, Any]]:
    """JobDefinition.describe, with the multi-node definition's nodeProperties."""
    def described(definition: Any) -> dict[str, Any]:
        answer = describe(definition)
        if definition.node_properties is not None:
            answer.setdefault("nodeProperties", definition.node_properties)
        return answer
    return described


def main(argv: list[str]) -> int:
    """moto's server with the changes above."""
    from moto.batch.models import Job, JobDefinition
    from moto.server import main as moto_main

    from scar_ci.local.batch_jobs import job_containers, runs_jobs

    JobDefinition.describe = with_node_properties(JobDefinition.describe)
    if runs_jobs():
        Job.docker_client = property(job_containers)
    return moto_main(argv) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
