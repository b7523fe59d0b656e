"""Lambda's side of AWS Batch: an event becomes a job on the function's queue.

The job's container gets the event and the request id in its environment
(`SCAR_BATCH_EVENT`, `SCAR_BATCH_REQUEST_ID`); its entry (`batch_job`) runs the event as the
function would. A multi-node parallel job gets them on every node (SCAR's `nodeOverrides` on
nodes `0:`), next to what Batch sets there (`AWS_BATCH_JOB_NODE_INDEX` and the others).
Batch refuses container overrides over 24 KiB: a larger event (a big inline script or body)
is refused here with what to do instead.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from scar_ci.supervisor.config import BatchTarget
from scar_ci.supervisor.errors import BadRequest

log = logging.getLogger("scar.supervisor")
EVENT_VARIABLE = "SCAR_BATCH_EVENT"
REQUEST_VARIABLE = "SCAR_BATCH_REQUEST_ID"
MAX_OVERRIDES = 24 * 1024
_JOB_NAME = re.compile(r"[^A-Za-z0-9_-]")


def job_overrides(event: Any, request_id: str) -> dict[str, Any]:
    """The container overrides carrying `event`; BadRequest when Batch would refuse them."""
    overrides = {"environment": [
        {"name": EVENT_VARIABLE, "value": json.dumps(event, separators=(",", ":"))},
        {"name": REQUEST_VARIABLE, "value": request_id}]}
    size = len(json.dumps(overrides).encode())
    if size > MAX_OVERRIDES:
        raise BadRequest(f"the event takes {size} bytes in the Batch job's container overrides, "
                         f"over AWS Batch's {MAX_OVERRIDES // 1024} KiB: upload the input (or "
                         "the script, as the function's init_script) instead of sending it in "
                         "the invocation")
    return overrides


def job_name(function: str, request_id: str) -> str:
    """`<function>-<request id>`, in Batch's job name alphabet and length."""
    return _JOB_NAME.sub("-", f"{function}-{request_id}")[:128]


def submit_job(target: BatchTarget, function: str, event: Any, request_id: str,
               client: Any = None) -> dict[str, str]:
    """Submit `event` as one job; the answer names the job, its id and its queue."""
    overrides = job_overrides(event, request_id)
    if client is None:
        import boto3  # lazy: keeps the handler light to import

        client = boto3.client("batch")
    name = job_name(function, request_id)
    placed = ({"nodeOverrides": {"nodePropertyOverrides": [
        {"targetNodes": "0:", "containerOverrides": overrides}]}} if target.multi_node
        else {"containerOverrides": overrides})
    answer = client.submit_job(jobName=name, jobQueue=target.job_queue,
                               jobDefinition=target.job_definition, **placed)
    log.info("submitted Batch job %s (%s) to %s", name, answer["jobId"], target.job_queue)
    return {"batch_job_id": answer["jobId"], "batch_job_name": name,
            "batch_job_queue": target.job_queue}
