"""The `local` verb of the command line and the `--local` switch (SCAR_CI_LOCAL=1)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4566
LOCAL_VARIABLE = "SCAR_CI_LOCAL"
NOT_RUNNING = 3
NO_AWS_VERBS = frozenset({"local", "validate"})
SWITCH_HELP = "target local mode (`scar-ci local up`) instead of AWS; also SCAR_CI_LOCAL=1"


def add_local_verb(verbs: Any) -> None:
    """`scar-ci local up|down|status`."""
    summary = "run functions on this machine: LocalStack with local processes and udocker"
    parser = verbs.add_parser("local", help=summary, description=summary)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = actions.add_parser("up", help="start local mode and print its endpoint")
    start.add_argument("--port", type=_port, default=DEFAULT_PORT,
                       help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free port)")
    start.add_argument("--docker-hub-mirror", action="store_true",
                       help="functions pull Docker Hub names (grycap/cowsay, ubuntu:16.04) from "
                            "local mode's image registry: push them there first; for machines "
                            "without Docker Hub")
    actions.add_parser("down", help="stop local mode and every function process it started")
    actions.add_parser("status", help="say whether local mode runs, and where (exit 3 if not)")
    parser.set_defaults(handler=cmd_local)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a port from 0 to 65535 (0: any free port)")
    return int(text)


def report_status(state: Path) -> int:
    """Print whether the LocalStack of `state` runs, and where; NOT_RUNNING when it does not."""
    from scar_ci.local import mode

    if instance := mode.status(state):
        print(f"running at {instance.url} (pid {instance.pid}, state in {state})")
        print(mode.describe_image_services(state, with_network=True))
        return 0
    print("not running")
    return NOT_RUNNING


def cmd_local(args: argparse.Namespace) -> int:
    """Start, stop or report local mode."""
    from scar_ci.local import mode

    state = mode.state_dir()
    if args.action == "up":
        print(mode.up(state, args.port, docker_hub_mirror=args.docker_hub_mirror).url)
    elif args.action == "down":
        mode.down(state)
    else:
        return report_status(state)
    return 0


def add_local_switch(parser: argparse.ArgumentParser, verbs: Any) -> None:
    """`--local` before the verb or after it, on every verb (those without AWS ignore it)."""
    parser.add_argument("--local", action="store_true", help=SWITCH_HELP)
    unique = {id(p): (name, p) for name, p in verbs.choices.items()}  # aliases share one
    for name, verb_parser in unique.values():
        if name != "local":  # SUPPRESS: an absent switch keeps the global one's value
            verb_parser.add_argument("--local", action="store_true", default=argparse.SUPPRESS,
                                     help=SWITCH_HELP)


def wants_local(args: argparse.Namespace) -> bool:
    """Whether this run targets local mode: --local, or SCAR_CI_LOCAL=1."""
    return bool(getattr(args, "local", False)) or os.environ.get(LOCAL_VARIABLE, "") in {
        "1", "true", "yes"}


def apply_local_mode(args: argparse.Namespace) -> None:
    """Point this run at local mode when asked (verbs that call no AWS API need nothing)."""
    if args.verb not in NO_AWS_VERBS and wants_local(args):
        from scar_ci.local import mode

        mode.activate(mode.state_dir())
