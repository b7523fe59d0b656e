"""What finding every scope costs: `prune`'s one tag pass against discovering scope by scope,
and `prune --dry-run` / `prune` themselves, against LocalStack.

    .venv/bin/python bench/prune_bench.py [--scopes 1,5,20]

For each count, that many manual scopes of a one-function FDL are deployed from a fresh
repository name (created a day ago by their tag); the table shows, for the account as it is
(other scopes included), the wall time and AWS calls of: the tag pass (`deployed_scopes`),
the per-scope discovery a prune would need without it (the teardown's own `discover` for each
scope found), `prune --older-than 1h --dry-run` (judging every scope and planning the
teardowns) and `prune` (applying them). LocalStack is the one at $SCAR_TESTBED_LOCALSTACK_URL,
else one started (and stopped) for the run.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from scar_ci.aws.inventory import deployed_scopes
from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.deploy.prune import Rules, judge_all, parse_age, prune
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope, ScopeKind
from scar_testbed import localstack_ctl

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "integration"))
from deploy_helpers import function, write_fdl


def measured(step: Callable[[Aws], object]) -> tuple[float, int]:
    """Seconds and AWS calls of `step` on a fresh Aws."""
    aws = Aws()
    started = time.monotonic()
    step(aws)
    return time.monotonic() - started, len(aws.calls.calls)


def one_count(count: int, folder: Path) -> list[tuple[str, float, int]]:
    name = f"scar-b-{secrets.token_hex(4)}"
    repository = f"bench/{name}"
    fdl = load_fdl(write_fdl(folder / name, [function(name, name)]))
    for n in range(count):
        scope = replace(Scope.named(ScopeKind.MANUAL, f"s{n}", repository),
                        created="2026-01-01T00:00:00Z")
        engine.deploy(fdl, scope, Aws(), say=lambda _: None)
    rules = Rules(repository, older_than=parse_age("1h"))
    found = deployed_scopes(Aws())
    ours = [d.scope for d in found if d.scope.source == repository]
    assert len(ours) == count, f"the tag pass found {len(ours)} of {count} scopes"
    quiet = {"say": lambda _: None}
    return [
        (f"tag pass ({len(found)} scopes in the account)", *measured(deployed_scopes)),
        (f"discover, scope by scope ({len(found)})",
         *measured(lambda aws: [engine.discover(aws, d.scope) for d in found])),
        ("prune --dry-run (judge all, plan teardowns)",
         *measured(lambda aws: prune(aws, judge_all(aws, rules), dry_run=True, **quiet))),
        (f"prune (tear down {count})",
         *measured(lambda aws: prune(aws, judge_all(aws, rules), dry_run=False, **quiet))),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scopes", default="1,5,20")
    args = parser.parse_args(argv)
    with localstack_ctl.endpoint_for_bench("prune-bench"), tempfile.TemporaryDirectory() as tmp:
        for count in (int(n) for n in args.scopes.split(",")):
            print(f"\n{count} scope(s) of the repository")
            print(f"| {'step':<48} | wall time | AWS calls |\n|{'-' * 50}|-----------|-----------|")
            for step, seconds, calls in one_count(count, Path(tmp)):
                print(f"| {step:<48} | {seconds:>7.2f} s | {calls:>9} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
