"""Which deployed function a command acts on: from an FDL and a scope, or by its name."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass

from scar_ci.aws.s3 import split_path
from scar_ci.aws.session import Aws
from scar_ci.commands.definition import profile_override
from scar_ci.errors import UsageError
from scar_ci.fdl import Function as FdlFunction
from scar_ci.scopes.scope import Scope, log_group_of

ScopeOf = Callable[[argparse.Namespace], Scope]
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Lambda's, as the FDL schema says


@dataclass(frozen=True)
class Target:
    """One deployed function; `function` is its FDL definition when an FDL named it."""

    name: str
    function: FdlFunction | None = None
    scope: Scope | None = None
    config: str | None = None  # `-c`: where a function named by -n alone takes its defaults

    def asynchronous(self, flag: bool | None) -> bool:
        """`-a` when given, else the FDL's default: SCAR's `asynchronous`, or
        `invocation_type: Event`; for a function named by -n alone, the configuration file's
        (SCAR's `run -n` reads scar.cfg too)."""
        if flag is not None:
            return flag
        if (function := self.function) is not None:
            return function.asynchronous or function.invocation_type == "Event"
        return _config_asynchronous(self.config)

    @property
    def log_group(self) -> str:
        return log_group_of(self.name)

    def input_folders(self) -> list[tuple[str, str]]:
        """(bucket, folder) of each input on the default S3 provider, named for the scope."""
        return self._folders("input")

    def output_folders(self) -> list[tuple[str, str]]:
        """(bucket, folder) of each output on the default S3 provider, named for the scope."""
        return self._folders("output")

    def _folders(self, which: str) -> list[tuple[str, str]]:
        if self.function is None:
            return []
        from scar_ci.deploy.desired import scoped_path

        scope = self.scope or Scope.production()
        return [split_path(scoped_path(scope, ref)) for ref in getattr(self.function, which)
                if ref.storage_provider == "s3"]


def targets(args: argparse.Namespace, scope_of: ScopeOf) -> tuple[Aws, list[Target]]:
    """The functions `-f FDL [-n NAME]` or `-n NAME [--scope]` designate, and their session.

    With an FDL, `-n` picks one of its functions by its FDL name and the scope names it. Without
    one, `-n` is the deployed name as `scar-ci ls` shows it, or the FDL name when `--scope` is
    given.
    """
    if args.fdl:
        from scar_ci.deploy import engine
        from scar_ci.fdl import load_fdl

        fdl = load_fdl(args.fdl, config_path=args.config, overrides=profile_override(args))
        scope = scope_of(args)
        chosen = [f for f in fdl.functions if args.name in (None, f.name)]
        if not chosen:
            known = ", ".join(f.name for f in fdl.functions) or "none"
            raise UsageError(f"{args.fdl}: no function named {args.name!r} (it defines: {known})")
        return engine.aws_for(fdl), [Target(scope.function_name(f.name), f, scope)
                                     for f in chosen]
    if args.name:
        if not _FUNCTION_NAME.fullmatch(args.name):
            raise UsageError(f"-n {args.name!r}: not a function name; use 1 to 64 ASCII "
                             "letters, digits, '-' or '_' (the deployed name 'scar-ci ls' "
                             "shows, or the FDL's with --scope)")
        scope = scope_of(args) if args.scope else None
        name = scope.function_name(args.name) if scope else args.name
        return Aws(profile=args.profile), [Target(name, None, scope, args.config)]
    raise UsageError("say which function: -f FDL (with -n NAME to pick one of its functions) "
                     "or -n NAME (the deployed name, as 'scar-ci ls' shows it)")


def _config_asynchronous(config_path: str | None) -> bool:
    """`lambda.asynchronous` or `invocation_type: Event` of the configuration file (SCAR's
    default one when -c is not given); a file with problems is refused as deploy refuses it."""
    from scar_ci.fdl.config import scar_config
    from scar_ci.fdl.errors import FDLError

    config = scar_config(config_path)
    if config is None:
        return False
    if config.problems:
        raise FDLError(config.name, config.problems)
    defaults = config.function_defaults.data.get("lambda") or {}
    return bool(defaults.get("asynchronous")) or defaults.get("invocation_type") == "Event"


def single(found: list[Target], args: argparse.Namespace) -> Target:
    """The one function a command needs; several in the FDL need `-n`."""
    if len(found) > 1:
        names = ", ".join(t.function.name for t in found if t.function)
        raise UsageError(f"{args.fdl} defines several functions ({names}); "
                         "choose one with -n NAME")
    return found[0]
