"""The command line of run, invoke, logs, put, get and rm (`scar-ci <verb> --help`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scar_ci import lazy
from scar_ci.commands.definition import add_profile_flag

# `run --concurrency` (scar_ci/commands/fanout.py): invocations in flight at once, here so the
# parser needs nothing of the fan-out's imports (the AWS session, scopes)
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 10  # botocore's default connection pool per client

if TYPE_CHECKING:
    from scar_ci.commands.target import ScopeOf

Handler = Callable[[argparse.Namespace], int]
Wrap = Callable[[Handler], Handler]


def _target_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--fdl", "--conf-file", metavar="FDL",
                        help="FDL file: the command acts on its function(s) in the scope")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="configuration file with defaults (as for deploy)")
    parser.add_argument("-n", "--name", metavar="NAME",
                        help="with -f: which of its functions; alone: the deployed name as "
                             "'scar-ci ls' shows it (the FDL name when --scope is given)")
    parser.add_argument("--scope", metavar="SCOPE",
                        help="scope of the function(s) (see docs/scopes.md)")
    add_profile_flag(parser)


def _add_run(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "run", help="invoke a function directly, or once per file in its input folder",
        description="Invoke a function directly (synchronously unless -a). When the function "
                    "has an S3 input folder with files and the request brings no script, "
                    "arguments or variables, one event is sent per file: the first "
                    "synchronously, the others asynchronously.")
    _target_flags(p)
    p.add_argument("-s", "--script", "--run-script", metavar="FILE",
                   help="shell script to run in the container instead of the function's own")
    p.add_argument("-ib", "--input-bucket", metavar="BUCKET[/PATH]",
                   help="send one event per file of this folder (SCAR's -ib; default: the "
                        "function's input folder)")
    p.add_argument("-es", "--event-source", metavar="BUCKET",
                   help="SCAR 1.x: the same for the folder BUCKET/input")
    p.add_argument("-e", "--env", action="append", default=[], metavar="NAME=VALUE",
                   help="variable for the container (repeatable; the value may contain '=')")
    p.add_argument("-a", "--asynchronous", action="store_true", default=None,
                   help="do not wait for the function's answer (default: the FDL's "
                        "asynchronous or invocation_type: Event)")
    p.add_argument("-o", "--output", "--output-file", metavar="FILE",
                   help="write the function's output there")
    p.add_argument("-j", "--json", action="store_true", help="print the answer as JSON")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the answer as JSON with the function error and log tail "
                        "(wins over -j, as in SCAR)")
    p.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    p.add_argument("--concurrency", type=_concurrency, default=DEFAULT_CONCURRENCY,
                   metavar="N", help=f"asynchronous events in flight during a fan-out "
                                     f"(1-{MAX_CONCURRENCY}, default {DEFAULT_CONCURRENCY})")
    p.add_argument("cmd_args", nargs=argparse.REMAINDER, metavar="-- COMMAND ARGS",
                   help="command and arguments given to the image (after its entrypoint)")
    return p


def _concurrency(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_CONCURRENCY}")
    return int(text)


def _add_transfer(verbs: Any, verb: str) -> argparse.ArgumentParser:
    put = verb == "put"
    summary = ("upload a file or a folder to a bucket path" if put else
               "download a file or a folder (recursively) from a bucket path")
    p = verbs.add_parser(verb, help=summary, description=(
        f"{summary[0].upper()}{summary[1:]}. Without -b, the path is the function's first "
        f"{'input' if put else 'output'} folder (-f FDL [-n NAME] [--scope])."))
    _target_flags(p)
    p.add_argument("-b", "--bucket", metavar="BUCKET[/PATH]",
                   help="bucket and folder (or object, for get)")
    if put:
        p.add_argument("-p", "--path", required=True, metavar="PATH",
                       help="file or folder to upload (a folder keeps its layout)")
    else:
        p.add_argument("-p", "--path", default=".", metavar="PATH",
                       help="where to write (default: the current folder)")
    return p


def _add_logs(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser("logs", help="show a function's log events; SCAR's name: log",
                         description="Show a function's log events from CloudWatch Logs.",
                         aliases=["log"])
    _target_flags(p)
    p.add_argument("--stream", "-ls", "--log-stream-name", metavar="NAME",
                   help="only this log stream")
    p.add_argument("--request-id", "-ri", metavar="ID",
                   help="only this request's events (START to REPORT)")
    p.add_argument("--since", metavar="AGE|TIME",
                   help="from this long ago (30s, 10m, 2h, 1d) or this time (ISO 8601)")
    p.add_argument("--follow", action="store_true",
                   help="keep printing new events (with --request-id: until it ends)")
    return p


def _add_invoke(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "invoke", help="call a function through its API Gateway URL",
        description="Call a function through its API Gateway URL: GET with -p parameters, or "
                    "POST of a file (-db) or of JSON (-jd). The output is printed decoded "
                    "from base64. API Gateway accepts bodies up to 10 MiB.")
    _target_flags(p)
    p.add_argument("-p", "--parameters", action="append", default=[],
                   metavar="NAME=VALUE|JSON",
                   help="query parameter (repeatable), or SCAR's JSON object of them "
                        "('{\"k1\": \"v1\", \"k2\": [\"v2\", \"v3\"]}'); the script sees "
                        "CONT_VAR_<NAME>")
    body = p.add_mutually_exclusive_group()
    body.add_argument("-db", "-d", "--data-binary", metavar="FILE",
                      help="POST this file's bytes (-d: SCAR 1.x's name)")
    body.add_argument("-jd", "--json-data", metavar="JSON", help="POST this JSON document")
    p.add_argument("-a", "--asynchronous", action="store_true", default=None,
                   help="ask for an asynchronous invocation (X-Amz-Invocation-Type: Event; "
                        "default: the FDL's asynchronous or invocation_type: Event)")
    p.add_argument("-o", "--output", "--output-file", metavar="FILE",
                   help="write the decoded output there")
    return p


def _add_rm(verbs: Any) -> argparse.ArgumentParser:
    p = verbs.add_parser(
        "rm", help="remove one function, the functions of an FDL, or all of a scope",
        description="Remove one function (-n), the functions of an FDL (-f), every function "
                    "of the scope (-a), or, with only --scope, everything of that scope as "
                    "teardown does. A function goes with its API, triggers, log group, role "
                    "and storage credentials; its buckets stay.")
    _target_flags(p)
    p.add_argument("-a", "--all", action="store_true",
                   help="every function of the scope (SCAR's rm -a; buckets stay)")
    p.add_argument("-j", "--json", action="store_true", help="print what was removed as JSON")
    p.add_argument("-v", "--verbose", action="store_true", dest="json",
                   help="the same as --json")
    p.add_argument("--delete-data", action="store_true",
                   help="with only --scope: also delete buckets holding objects scar-ci did "
                        "not write")
    return p


def add_command_verbs(verbs: Any, wrap: Wrap, scope_of: ScopeOf) -> None:
    """Add the verbs to `verbs`; `wrap` turns AWS errors into user errors. Their handlers are
    imported when their verb runs (scar_ci/lazy.py)."""
    specs = [(_add_run(verbs), "run:cmd_run"), (_add_transfer(verbs, "put"), "transfer:cmd_put"),
             (_add_transfer(verbs, "get"), "transfer:cmd_get"), (_add_logs(verbs), "logs:cmd_logs"),
             (_add_invoke(verbs), "http:cmd_invoke"), (_add_rm(verbs), "remove:cmd_rm")]
    for parser, target in specs:
        parser.set_defaults(handler=wrap(lazy.handler(f"scar_ci.commands.{target}",
                                                      scope_of=scope_of)))
