"""`scar-ci run`: a direct invocation, or one event per file already in the input folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scar_ci.aws.s3 import split_path
from scar_ci.aws.session import Aws
from scar_ci.commands.fanout import FanOut, fan_out, input_objects
from scar_ci.commands.invocation import (
    Answer,
    direct_payload,
    invoke,
    parse_variables,
    quoted,
)
from scar_ci.commands.output import Progress, say_to, write_file
from scar_ci.commands.target import ScopeOf, Target, single, targets
from scar_ci.errors import UserError


def cmd_run(args: argparse.Namespace, scope_of: ScopeOf) -> int:
    """Invoke one function; with input files and no request of its own, fan out over them."""
    from scar_ci.commands.services import run_service, service_target

    if (service := service_target(args, scope_of)) is not None:
        return run_service(args, service)
    aws, found = targets(args, scope_of)
    target = single(found, args)
    _fdl_defaults(args, target)
    cmd_args = args.cmd_args[1:] if args.cmd_args[:1] == ["--"] else args.cmd_args
    env = parse_variables(args.env, "-e")
    script = Path(args.script) if args.script else (  # command arguments override it (SCAR)
        target.function.run_script if target.function and not cmd_args else None)
    given = args.input_bucket or (f"{args.event_source}/input" if args.event_source else None)
    folders = [split_path(given)] if given else target.input_folders()
    if folders and (given or not (args.script or cmd_args or env)):
        objects = input_objects(aws, folders)
        if objects:
            return _fan_out(aws, target, objects, args)
        shown = ", ".join(f"s3://{b}/{f}" for b, f in folders)
        say_to(args.json or args.verbose)(
            f"no files in {shown}: one invocation without an input file")
    payload = direct_payload(script, cmd_args, env)
    if args.dry_run:
        how = "asynchronously" if args.asynchronous else "synchronously"
        print(f"would invoke {target.name} {how} with {_described(payload)}")
        return 0
    answer = invoke(aws, target.name, payload, asynchronous=args.asynchronous,
                    tail=args.verbose and args.log_tail)
    _show(answer, args)
    if answer.error:
        raise answer.failure()
    return 0


def _fdl_defaults(args: argparse.Namespace, target: Target) -> None:
    """What the FDL's function says when the command line does not: `asynchronous` and
    `invocation_type` (Event: asynchronous; DryRun: `--dry-run`), `log_type` (None: no log
    tail with -v), as SCAR's run reads them."""
    function = target.function
    args.asynchronous = target.asynchronous(args.asynchronous)
    args.dry_run = args.dry_run or (function is not None and function.invocation_type == "DryRun")
    args.log_tail = function is None or function.log_type == "Tail"


def _described(payload: dict[str, object]) -> str:
    shown = {k: (f"<{len(str(v))} base64 characters>" if k == "script" else v)
             for k, v in payload.items()}
    return json.dumps(shown) if shown else "an empty request (the function's own script)"


def _show(answer: Answer, args: argparse.Namespace) -> None:
    """The output to stdout or -o FILE (JSON with -j/-v); a failure's message comes after."""
    if args.asynchronous:
        if args.json or args.verbose:  # SCAR's: Lambda's 202 says it was queued as an Event
            print(json.dumps({"LambdaOutput": {"StatusCode": answer.status,
                                               "RequestId": answer.request_id}}, indent=2))
        else:
            print(f"Function '{answer.function}' launched successfully "
                  f"(request {answer.request_id})")
        return
    if args.output and not answer.error:
        write_file(Path(args.output), answer.output.encode())
    if args.json or args.verbose:
        print(json.dumps(answer.to_dict(verbose=args.verbose), indent=2))
    elif not answer.error:
        print(f"Request Id: {answer.request_id}\nLog Group Name: {answer.log_group}",
              file=sys.stderr)
        if not args.output:
            sys.stdout.write(answer.output)


def _fan_out(aws: Aws, target: Target, objects: list[tuple[str, str]],
             args: argparse.Namespace) -> int:
    if args.dry_run:
        for bucket, key in objects:
            print(f"would send s3://{bucket}/{key}")
        print(f"{len(objects)} event(s) would be sent to {target.name}")
        return 0
    stream = sys.stderr if args.json or args.verbose else sys.stdout
    say = say_to(stream is sys.stderr)
    say(f"sending {len(objects)} event(s) to {target.name}, one per input file")
    tick = Progress("dispatched asynchronously", len(objects) - 1, stream)
    result = fan_out(aws, target.name, objects, concurrency=args.concurrency, say=say,
                     tick=tick)
    if args.json:
        print(json.dumps(_fan_out_dict(result), indent=2))
    say(result.summary())
    if result.failed:
        uri, reason = result.failed[0]
        raise UserError(quoted(f"{len(result.failed)} of {result.total} event(s) failed; "
                               f"the first: {uri}: {reason}"))
    return 0


def _fan_out_dict(result: FanOut) -> dict[str, object]:
    return {"total": result.total, "sent": result.sent, "seconds": round(result.seconds, 3),
            "failed": [{"file": uri, "reason": reason} for uri, reason in result.failed]}
