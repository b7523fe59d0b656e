"""Verb handlers named by "package.module:function" and imported only when their verb runs.

This is what keeps `scar-ci --version` and `scar-ci validate` quick: building the argument
parser must import nothing heavier than argparse and constants (no boto3, no image builders,
no local mode), so a verb whose handler lives in a module with heavy imports registers it as
`parser.set_defaults(handler=lazy.handler("scar_ci.commands.run:cmd_run"))`.
tests/unit/test_cli_imports.py fails when a verb's parser pulls such a module in.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def handler(target: str, **bound: Any) -> Handler:
    """A handler that imports `target` ("package.module:function") when called, then calls
    it with the parsed arguments and `bound` as keywords."""
    module, _, name = target.partition(":")

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args, **bound)

    run.__qualname__ = f"lazy {target}"
    return run
