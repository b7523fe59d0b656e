"""The `scar-ci` command line: one sub-command per verb, no prompts, clear exit codes.

Building the parser imports nothing heavy, so `--version` and `validate` start quickly: a
handler defined here imports what it needs inside its body; one in another module is
registered by name, `set_defaults(handler=lazy.handler("scar_ci.<module>:<function>"))`, and
imported only when its verb runs (scar_ci/lazy.py; tests/unit/test_cli_imports.py checks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from scar_ci import __version__
from scar_ci.commands.definition import (
    DEFAULT_FDL,
    add_definition_flags,
    add_profile_flag,
    profile_override,
)
from scar_ci.commands.scopes import add_prune_verb
from scar_ci.commands.verbs import add_command_verbs
from scar_ci.errors import UsageError, UserError
from scar_ci.local.commands import (
    add_local_switch,
    add_local_verb,
    apply_local_mode,
    wants_local,
)
from scar_ci.package.image.builder_choice import BUILDER_VARIABLE, BUILDERS, chosen_builder
from scar_ci.process_exit import INTERRUPTED, leave

if TYPE_CHECKING:
    from scar_ci.aws.session import Aws
    from scar_ci.fdl import Fdl
    from scar_ci.scopes.scope import Scope

Handler = Callable[[argparse.Namespace], int]



def _add_fdl(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--fdl", "--conf-file", default=DEFAULT_FDL, metavar="FDL",
        help=f"FDL file describing the functions (default: {DEFAULT_FDL})",
    )
    parser.add_argument(
        "-c", "--config", metavar="FILE",
        help="configuration file with defaults (default: SCAR's, $SCAR_CONFIG_FOLDER/scar.cfg "
             "or ~/.scar/scar.cfg, when it exists)",
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
    line = f"{args.fdl}: valid, {count} function{'s' if count != 1 else ''} ({names})"
    if fdl.oscar:
        services = ", ".join(f"{s.cluster_id}/{s.name}" for s in fdl.oscar)
        line += (f", {len(fdl.oscar)} OSCAR service{'s' if len(fdl.oscar) != 1 else ''} "
                 f"({services})")
    print(line)
    return 0


# -- plan / deploy / teardown / ls (the deploy engine, scar_ci/deploy/) --------------------


def _scope_of(args: argparse.Namespace) -> Scope:
    from scar_ci.github.context import load_context
    from scar_ci.scopes.scope import resolve_scope

    return resolve_scope(args.scope, load_context())


def _aws_errors(handler: Handler) -> Handler:
    """AWS errors become one clear message (botocore is imported only when AWS is used)."""
    def run(args: argparse.Namespace) -> int:
        from scar_ci.aws.errors import AWS_EXCEPTIONS, explain

        try:
            return handler(args)
        except AWS_EXCEPTIONS as error:
            raise explain(error) from None

    return run


@_aws_errors
def cmd_plan(args: argparse.Namespace) -> int:
    """Print what deploy would do (reads only)."""
    from scar_ci.aws.ecr import ImageOptions
    from scar_ci.commands.definition import load_definition
    from scar_ci.commands.output import say_to
    from scar_ci.deploy import engine

    images = ImageOptions(chosen_builder(args.image_builder), say_to(stderr=True))
    fdl, scope = load_definition(args), _scope_of(args)
    plan, _ = engine.plan_deploy(fdl, scope, engine.aws_for(fdl), images)
    print(plan.to_json() if args.json else plan.render())
    return 2 if args.detailed_exitcode and plan.mutating else 0


@_aws_errors
def cmd_deploy(args: argparse.Namespace) -> int:
    """Plan, print the plan, apply it, print the API URLs."""
    from scar_ci.commands.definition import load_definition
    from scar_ci.deploy import engine

    builder = chosen_builder(args.image_builder)
    fdl, scope = load_definition(args), _scope_of(args)
    say = _say(args)
    aws = engine.aws_for(fdl)
    plan, urls = engine.deploy(fdl, scope, aws, say, builder, additive=args.verb == "init")
    for name, url in urls.items():
        say(f"{name}: {url}")
    _preheat(fdl, scope, aws, say)
    if args.json:
        print(json.dumps({**json.loads(plan.to_json()), "urls": urls}, indent=2))
    return 0


def _preheat(fdl: Fdl, scope: Scope, aws: Aws, say: Callable[[str], None]) -> None:
    """SCAR's `preheat`: each such function is invoked once, synchronously, after deploying
    (its first run pulls the image into the sandbox's cache)."""
    from scar_ci.commands.invocation import invoke

    for function in fdl.functions:
        if function.preheat:
            name = scope.function_name(function.name)
            answer = invoke(aws, name, {})
            if answer.error:
                raise UserError(f"deployed, but preheating {name} failed "
                                f"(request {answer.request_id}): {answer.output.strip()[-500:]}")
            say(f"preheated {name} (request {answer.request_id})")


@_aws_errors
def cmd_teardown(args: argparse.Namespace) -> int:
    """Delete everything of a scope, found by tags (the FDL only gives region and profile)."""
    from scar_ci.aws.session import Aws
    from scar_ci.commands.services import known_clusters
    from scar_ci.deploy import engine
    from scar_ci.fdl import load_fdl

    scope = _scope_of(args)
    if scope.is_production and args.scope is None:
        raise UsageError("teardown would remove the production deployment; "
                         "say so explicitly with --scope production")
    fdl = load_fdl(args.fdl, config_path=args.config,
                   overrides=profile_override(args)) if args.fdl else None
    aws = engine.aws_for(fdl) if fdl else Aws()
    plan = engine.teardown(scope, aws, delete_data=args.delete_data, say=_say(args),
                           oscar=known_clusters(fdl, args))
    if args.json:
        print(plan.to_json())
    return 0


@_aws_errors
def cmd_ls(args: argparse.Namespace) -> int:
    """List deployed functions per scope, with their API URLs."""
    from scar_ci.aws.session import Aws
    from scar_ci.commands.services import known_clusters
    from scar_ci.deploy import engine
    from scar_ci.fdl import load_fdl
    from scar_ci.oscar.clusters import render_services

    fdl = load_fdl(args.fdl, config_path=args.config,
                   overrides=profile_override(args)) if args.fdl else None
    aws = engine.aws_for(fdl) if fdl else Aws()
    if args.bucket:
        from scar_ci.commands.transfer import list_bucket

        return list_bucket(args, aws)
    if args.all_scopes:
        from scar_ci.commands.scopes import list_all_scopes

        return list_all_scopes(aws, args.json, known_clusters(fdl, args))
    scope = _scope_of(args) if args.scope else None
    rows = engine.list_deployed(aws, scope)
    services = known_clusters(fdl, args).deployed(scope)
    if args.json:
        print(json.dumps([*(r.to_dict() for r in rows),
                          *({"kind": "oscar service", **s.to_dict()} for s in services)],
                         indent=2))
    else:
        print(engine.render_deployed(rows))
        if services:
            print(render_services(services))
    return 0


def _say(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress goes to stdout, or to stderr when stdout carries JSON."""
    from scar_ci.commands.output import say_to

    return say_to(stderr=args.json)


def _add_deploy_verbs(verbs: Any) -> None:
    specs: list[tuple[str, str, Handler, bool]] = [
        ("plan", "show what deploy would create, update and delete (reads only)", cmd_plan, True),
        ("deploy", "create or update the functions of an FDL (or of SCAR's init flags) in a "
                   "scope; SCAR's name: init", cmd_deploy, True),
        ("teardown", "remove everything of a scope (found by tags; -f only for the region)",
         cmd_teardown, False),
        ("ls", "list deployed functions per scope, with their API URLs", cmd_ls, False),
    ]
    for verb, summary, handler, defines in specs:
        p = verbs.add_parser(verb, help=summary, description=summary,
                             aliases=["init"] if verb == "deploy" else [])
        if defines:
            add_definition_flags(p)
        else:
            _add_fdl(p)
            p.set_defaults(fdl=None)
        if verb == "ls":
            add_profile_flag(p)
        _add_scope(p)
        p.add_argument("-j", "--json", action="store_true", help="print the result as JSON")
        if verb != "teardown":
            p.add_argument("-v", "--verbose", action="store_true", dest="json",
                           help="the same as --json (SCAR's complete output)")
        if verb == "plan":
            p.add_argument("--detailed-exitcode", action="store_true",
                           help="exit 2 when there are changes (drift), 0 when none, 1 on "
                                "errors, as Terraform does")
        if verb in ("plan", "deploy"):
            p.add_argument("--image-builder", choices=BUILDERS, metavar="BUILDER",
                           help="how runtime: image functions are built: auto (docker when a "
                                "Docker Engine answers, else daemonless), docker or "
                                f"daemonless (default: ${BUILDER_VARIABLE}, else auto)")
        if verb == "teardown":
            p.add_argument("--delete-data", action="store_true",
                           help="also delete buckets that hold objects scar-ci did not write")
        if verb == "ls":
            p.add_argument("-b", "--bucket", metavar="BUCKET[/PATH]",
                           help="list the files at a bucket path instead of the functions")
            p.add_argument("--all-scopes", action="store_true",
                           help="one line per scope: origin, age, functions, API URLs")
        p.set_defaults(handler=handler)


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

    _add_deploy_verbs(verbs)
    add_prune_verb(verbs, _aws_errors, _add_fdl)
    add_command_verbs(verbs, _aws_errors, _scope_of)
    add_local_verb(verbs)
    add_local_switch(parser, verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `scar-ci`; returns the process exit code."""
    from scar_ci.github.workflow import end_lines, guard_output, mask
    from scar_ci.secret_sinks import mask_secrets_with

    guard_output()  # under Actions, no line printed from here on can be a workflow command
    mask_secrets_with(mask)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        apply_local_mode(args)
        _use_profile(args)
        return args.handler(args)
    except UserError as error:
        _report(error)
        # with --detailed-exitcode, 2 means "changes": every error is 1, as with Terraform
        return 1 if getattr(args, "detailed_exitcode", False) else error.exit_code
    except KeyboardInterrupt:
        print(f"scar-ci: interrupted{_what_is_left(args)}", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader of the output left (`scar-ci ls | head -1`)
        from scar_ci.commands.output import discard_output

        discard_output(sys.stdout)
        return 141
    finally:
        end_lines()


def run() -> NoReturn:
    """The `scar-ci` command: `main` of this process's arguments, then exit (at once after
    Ctrl-C, not waiting for calls still running: process_exit.leave)."""
    leave(main())


def _use_profile(args: argparse.Namespace) -> None:
    """SCAR's `-pf PROFILE` for every AWS call of this run (the verbs that read an FDL also
    put it over the FDL's boto_profile); local mode's credentials are fixed, so it is dropped
    there."""
    if getattr(args, "profile", None):
        if wants_local(args):
            args.profile = None
        else:
            os.environ["AWS_PROFILE"] = args.profile


def _what_is_left(args: argparse.Namespace) -> str:
    """After Ctrl-C in deploy or teardown (both converge when run again): how to go on."""
    if args.verb not in ("deploy", "init", "teardown"):
        return ""
    again = f"run the same {args.verb} again to finish it"
    if args.verb == "teardown":
        return f"; what was removed so far is gone: {again}"
    return (f"; what was done so far stays: {again}, or "
            f"'scar-ci teardown --scope {_scope_of(args).label}' to remove it")


def _report(error: UserError) -> None:
    """Print a user error and, under GitHub Actions, annotate it."""
    from scar_ci.github.annotations import annotate

    print(error.render(), file=sys.stderr)
    annotate(error.annotations())
