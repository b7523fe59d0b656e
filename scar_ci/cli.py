"""The `scar-ci` command line: one sub-command per verb, no prompts, clear exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from scar_ci import __version__
from scar_ci.errors import NotAvailableYet, UserError

Handler = Callable[[argparse.Namespace], int]

DEFAULT_FDL = "scar.yaml"


def _add_fdl(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--fdl", default=DEFAULT_FDL, metavar="FDL",
        help=f"FDL file describing the functions (default: {DEFAULT_FDL})",
    )
    parser.add_argument(
        "-c", "--config", metavar="FILE",
        help="configuration file with defaults (default: ~/.scar/scar.cfg when it exists)",
    )


def _add_scope(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scope", metavar="SCOPE",
        help="scope to act on: production, pr-<n>, branch:<name>, tag:<name>, "
             "manual:<label> or a stage name (default: derived from the GitHub context, "
             "else production; see docs/scopes.md)",
    )


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate an FDL file; print one line per problem, with file:line:col."""
    from scar_ci.fdl import load_fdl

    fdl = load_fdl(args.fdl, config_path=args.config)
    names = ", ".join(f.name for f in fdl.functions) or "none"
    count = len(fdl.functions)
    print(f"{args.fdl}: valid, {count} function{'s' if count != 1 else ''} ({names})")
    return 0


def _not_yet(verb: str, issue: str) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        raise NotAvailableYet(
            f"'scar-ci {verb}' is not available in scar-ci {__version__} yet ({issue}); "
            "'scar-ci validate' works today."
        )

    return handler


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb and its help text."""
    parser = argparse.ArgumentParser(
        prog="scar-ci",
        description="Run Docker images as serverless functions on AWS Lambda and Batch, "
                    "deployed per branch, pull request and release tag from an FDL file.",
    )
    parser.add_argument("--version", action="version", version=f"scar-ci {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("validate", help="check an FDL file against the schema (no AWS call)")
    _add_fdl(p)
    p.set_defaults(handler=cmd_validate)

    planned: list[tuple[str, str, str, bool]] = [
        ("plan", "show what deploy would create, update and delete", "deploy engine", True),
        ("deploy", "create or update the functions of an FDL in a scope", "deploy engine", True),
        ("teardown", "remove everything of a scope", "deploy engine", True),
        ("ls", "list deployed functions per scope, or files in a bucket", "command parity", False),
        ("run", "invoke a function directly (synchronously or not)", "command parity", False),
        ("invoke", "call a function through its API Gateway URL", "command parity", False),
        ("logs", "show a function's log events", "command parity", False),
        ("put", "upload a file or folder to a bucket path", "command parity", False),
        ("get", "download a file or folder from a bucket path", "command parity", False),
        ("rm", "remove one function, all of an FDL, or all of a scope", "command parity", True),
    ]
    for verb, summary, issue, takes_fdl in planned:
        p = verbs.add_parser(verb, help=summary, description=summary)
        if takes_fdl:
            _add_fdl(p)
            _add_scope(p)
        p.set_defaults(handler=_not_yet(verb, issue))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `scar-ci`; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UserError as error:
        _report(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("scar-ci: interrupted", file=sys.stderr)
        return 130


def _report(error: UserError) -> None:
    """Print a user error and, under GitHub Actions, annotate it."""
    from scar_ci.github.annotations import annotate

    print(error.render(), file=sys.stderr)
    annotate(error.annotations())
