"""moto's server as local mode's ECR API and AWS Batch (run as a script with moto_server's
arguments, on the Python of LocalStack's venv, which has moto):

    python scar_ci/local/batch_moto.py -H 127.0.0.1 -p PORT

Two changes to moto: DescribeJobDefinitions answers a multi-node job definition with its
`nodeProperties`, as AWS Batch does (moto stores them and leaves them out); and, when local mode
sets the job environment (batch_jobs.JOB_ENV_VARIABLE), jobs run under udocker in the
execution environments' sandbox (batch_jobs) instead of through a Docker daemon.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: find scar_ci beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
BATCH_MODELS = "moto.batch.models"


def with_node_properties(describe: Callable[[Any], dict[str, Any]]
                         ) -> Callable[[Any], dict[str, Any]]:
    """JobDefinition.describe, with the multi-node definition's nodeProperties."""
    def described(definition: Any) -> dict[str, Any]:
        answer = describe(definition)
        if definition.node_properties is not None:
            answer.setdefault("nodeProperties", definition.node_properties)
        return answer
    return described


def _patch(models: Any) -> None:
    """The changes above, on moto's Batch models."""
    models.JobDefinition.describe = with_node_properties(models.JobDefinition.describe)
    from scar_ci.local.batch_jobs import job_containers, runs_jobs

    if runs_jobs():
        models.Job.docker_client = property(job_containers)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches moto's Batch models when a request first loads them (importing them at start,
    with the EC2, ECS, IAM and Logs models they need, would delay the ECR API by 1-2 s)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != BATCH_MODELS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def main(argv: list[str]) -> int:
    """moto's server with the changes above."""
    sys.meta_path.insert(0, _PatchOnImport())
    from moto.server import main as moto_main

    return moto_main(argv) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
