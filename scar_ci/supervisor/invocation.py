"""One invocation: event -> jobs; per job: folders, input, command, run, outputs, clean-up."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scar_ci.supervisor.batch_submit import submit_job
from scar_ci.supervisor.command import choose_command
from scar_ci.supervisor.config import BatchTarget, FunctionConfig, Settings
from scar_ci.supervisor.errors import BadRequest, ConfigError, ScriptFailed, SupervisorError
from scar_ci.supervisor.events import Job, is_notification, parse_event
from scar_ci.supervisor.process import RunResult
from scar_ci.supervisor.response import api_response, is_api_event
from scar_ci.supervisor.runtimes import Runtime
from scar_ci.supervisor.storage import Storage

log = logging.getLogger("scar.supervisor")
FUNCTION_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass
class Supervisor:
    """Lives as long as the sandbox: configuration, clients and container are reused."""

    config: FunctionConfig
    settings: Settings
    storage: Storage
    runtime: Runtime

    def handle(self, event: Any, context: Any) -> Any:
        """Run every job of the event (in `batch` mode: submit it to AWS Batch); API Gateway
        gets an HTTP answer, others the output text. A notification the supervisor rejects
        (a bad key) is answered, not raised: a retry could not make it acceptable."""
        run = self._submit if self.config.batch and self.config.batch.mode == "batch" \
            else self._run_all
        if is_api_event(event):
            try:
                return api_response(200, run(event, context), context)
            except SupervisorError as exc:
                log.error("%s", exc)
                return api_response(exc.status, _error_body(exc), context)
        try:
            return run(event, context).decode("utf-8", errors="replace")
        except BadRequest as exc:
            if not is_notification(event):
                raise
            # Lambda retries a failed asynchronous (S3) invocation: this one cannot succeed
            log.error("%s; the event is dropped, not retried", exc)
            return _error_body(exc).decode()

    def _submit(self, event: Any, context: Any) -> bytes:
        # a malformed or hostile event is refused here, not in the job
        parse_event(event, self.config.api_overrides)
        answer = submit_job(self._batch(), self.config.name, event, context.aws_request_id)
        return json.dumps(answer).encode()

    def _batch(self) -> BatchTarget:
        if self.config.batch is None:
            raise ConfigError(f"{self.config.name}: its configuration names no Batch job queue")
        return self.config.batch

    def _run_all(self, event: Any, context: Any) -> bytes:
        jobs = parse_event(event, self.config.api_overrides)
        return b"".join(self.run_job(job, context) for job in jobs)

    def run_job(self, job: Job, context: Any) -> bytes:
        """Run one job in its own folders; outputs are uploaded even when the script fails."""
        self.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="scar-", dir=self.settings.tmp_dir))
        try:
            folders = [root / "input", root / "output", root / "run"]
            for folder in folders:
                folder.mkdir()
            input_path = self._materialise_input(job, folders[0])
            command = choose_command(job, self.config, folders[2])
            log.info("running the %s (%s)", command.origin, job.kind)
            self.runtime.prepare()
            variables = self._variables(job, context, folders, input_path)
            timeout = context.get_remaining_time_in_millis() / 1000 - self.config.timeout_threshold
            if timeout <= 0:
                raise ScriptFailed("no time left to run the script: raise the function's timeout "
                                   "or lower container.timeout_threshold")
            extra = [self.config.extra_payload] if self.config.extra_payload else []
            result = self.runtime.run(command, variables, [*folders, *extra], timeout, root)
            if result.timed_out and self.config.batch and \
                    self.config.batch.mode == "lambda-batch":
                return self._hand_over(job, context, command.origin, timeout)
            self.storage.upload_outputs(folders[1], context.aws_request_id)
            return _checked(result, command.origin, timeout)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _hand_over(self, job: Job, context: Any, origin: str, timeout: float) -> bytes:
        """lambda-batch: the job ran out of Lambda's time; Batch runs it again from the start
        (what it wrote so far is not uploaded: the Batch job writes the whole output)."""
        answer = submit_job(self._batch(), self.config.name, job.source,
                            context.aws_request_id)
        log.info("the %s ran out of Lambda's time after %.0f s: handed over to AWS Batch",
                 origin, timeout)
        return json.dumps(answer).encode()

    def _materialise_input(self, job: Job, folder: Path) -> str:
        if job.stored_object is not None:
            return str(self.storage.download(job.stored_object, folder))
        if job.body is not None:
            path = folder / job.body_name
            path.write_bytes(job.body)
            return str(path)
        return ""

    def _variables(self, job: Job, context: Any, folders: list[Path],
                   input_path: str) -> dict[str, str]:
        own = {
            "INPUT_FILE_PATH": input_path,
            "TMP_INPUT_DIR": str(folders[0]),
            "TMP_OUTPUT_DIR": str(folders[1]),
            "STORAGE_OBJECT_KEY": job.stored_object.key if job.stored_object else "",
            "EVENT": job.event_json,
            "EVENT_TIME": job.event_time,
            "REQUEST_ID": context.aws_request_id,
            "EXTRA_PAYLOAD": str(self.config.extra_payload or ""),
        }
        aws = {k: v for k, v in os.environ.items()
               if k in FUNCTION_CREDENTIALS or k.startswith("AWS_ENDPOINT_URL")}
        return {**self.config.environment, **job.env, **aws, **{k: v for k, v in own.items() if v}}


def _checked(result: RunResult, origin: str, timeout: float) -> bytes:
    if result.timed_out:
        raise ScriptFailed(
            f"the {origin} timed out after {timeout:.0f} s (the function's remaining time minus "
            "container.timeout_threshold) and was killed; outputs written so far were uploaded",
            result.output,
        )
    if result.exit_code != 0:
        raise ScriptFailed(f"the {origin} exited with code {result.exit_code}", result.output,
                           result.exit_code)
    return result.output


def _error_body(exc: SupervisorError) -> bytes:
    if isinstance(exc, ScriptFailed):
        return f"scar-supervisor: {exc.headline}\n\n".encode() + exc.output
    return f"scar-supervisor: {exc}\n".encode()
