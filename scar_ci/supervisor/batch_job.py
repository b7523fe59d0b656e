"""The job image's entry on AWS Batch: `python -m scar_ci.supervisor.batch_job`.

Runs the event the function submitted (`SCAR_BATCH_EVENT`, under the function's request id
`SCAR_BATCH_REQUEST_ID`) as the function image would in Lambda: the input downloaded, the
script run directly in the image, the outputs uploaded. The exit code is the script's, so
Batch marks a failed script's job FAILED. On each node of a multi-node parallel job it runs
the same event; the script tells the nodes apart by what Batch sets
(`AWS_BATCH_JOB_NODE_INDEX`, `AWS_BATCH_JOB_NUM_NODES`, `AWS_BATCH_JOB_MAIN_NODE_INDEX`,
`AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS`), as SCAR's MPI example does.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from scar_ci.supervisor.batch_submit import EVENT_VARIABLE, REQUEST_VARIABLE
from scar_ci.supervisor.config import Settings, config_path, load_config
from scar_ci.supervisor.context import LocalContext
from scar_ci.supervisor.errors import ScriptFailed, SupervisorError
from scar_ci.supervisor.events import parse_event
from scar_ci.supervisor.handler import configure_logging
from scar_ci.supervisor.invocation import Supervisor
from scar_ci.supervisor.runtimes import ImageRuntime
from scar_ci.supervisor.storage import Storage

log = logging.getLogger("scar.supervisor")
JOB_SECONDS = 14 * 24 * 3600.0  # no Lambda deadline: Batch's own job timeout applies


def run_job() -> int:
    """Run the submitted event; the script's exit code (1 for the supervisor's own errors)."""
    configure_logging()
    text = os.environ.get(EVENT_VARIABLE)
    if text is None:
        log.error("%s is not set: this image's batch entry runs jobs a scar-ci function "
                  "submitted", EVENT_VARIABLE)
        return 2
    request_id = os.environ.get(REQUEST_VARIABLE) or os.environ.get("AWS_BATCH_JOB_ID", "")
    if nodes := os.environ.get("AWS_BATCH_JOB_NUM_NODES"):
        log.info("node %s of %s nodes (main node %s)", os.environ.get("AWS_BATCH_JOB_NODE_INDEX"),
                 nodes, os.environ.get("AWS_BATCH_JOB_MAIN_NODE_INDEX"))
    try:
        config = load_config(config_path())
        storage = Storage(config)
        supervisor = Supervisor(config, Settings.from_environment(), storage, ImageRuntime())
        context = LocalContext(JOB_SECONDS, config.name, request_id)
        for job in parse_event(json.loads(text), config.api_overrides):
            supervisor.run_job(job, context)  # its output is streamed to the job's log
    except ScriptFailed as error:
        log.error("%s", error.headline)
        return error.exit_code
    except (SupervisorError, ValueError) as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_job())
