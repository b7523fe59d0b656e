"""The action's entry: inputs from the environment, the pipeline, errors as one message."""

from __future__ import annotations

import sys

from scar_ci.errors import UserError
from scar_ci.github.annotations import annotate
from scar_ci.github.workflow import end_lines, guard_output
from scar_ci.process_exit import INTERRUPTED
from scar_ci.steps.summary import fenced, write_summary


def main() -> int:
    """Run the action with the runner's environment; the exit code."""
    from scar_ci.aws.errors import AWS_EXCEPTIONS, explain
    from scar_ci.steps.inputs import ActionInputs
    from scar_ci.steps.pipeline import run

    guard_output()  # no line printed from here on can be a workflow command
    try:
        try:
            return run(ActionInputs.from_env())
        except AWS_EXCEPTIONS as error:
            raise explain(error) from None
    except UserError as error:
        print(error.render(), file=sys.stderr, flush=True)
        annotate(error.annotations())
        _summarize_failure(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("scar-ci: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        end_lines()


def _summarize_failure(error: UserError) -> None:
    try:
        write_summary(f"### scar-action · failed\n\n{fenced(error.render())}\n")
    except UserError as unwritable:
        print(unwritable.render(), file=sys.stderr)
