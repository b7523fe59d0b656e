"""`scar-ci prune` and `scar-ci ls --all-scopes`: every scope deployed here, from its tags."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scar_ci.commands.output import say_to, table

if TYPE_CHECKING:  # the parser is built without botocore; the commands import it
    from scar_ci.aws.inventory import DeployedScope
    from scar_ci.aws.session import Aws
    from scar_ci.deploy.prune import Verdict
    from scar_ci.oscar.clusters import Oscar

Handler = Callable[[argparse.Namespace], int]
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")


def age_of(found: DeployedScope) -> str:
    from scar_ci.deploy.prune import shown_age
    from scar_ci.scopes.scope import created_at

    created = created_at(found.scope)
    return shown_age(datetime.now(UTC) - created) if created else "?"


def render_verdicts(verdicts: list[Verdict], dry_run: bool) -> str:
    """What prune decided, one line per scope: action, scope, origin, age, why."""
    if not verdicts:
        return "no scope deployed by scar-ci here"
    remove = "would remove" if dry_run else "remove"
    return table([(remove if v.remove else "keep", v.found.scope.label, v.found.scope.origin,
                   age_of(v.found), v.why) for v in verdicts])


def cmd_prune(args: argparse.Namespace) -> int:
    """Judge every scope, print the verdicts, tear down those to remove (or print their plans
    with --dry-run)."""
    from scar_ci.aws.session import Aws
    from scar_ci.commands.services import known_clusters
    from scar_ci.deploy import engine
    from scar_ci.deploy.prune import judge_all, prune, rules_from
    from scar_ci.fdl import load_fdl

    env = os.environ
    repository = args.repository or env.get("GITHUB_REPOSITORY") or None
    token = next((env[name] for name in TOKEN_VARIABLES if env.get(name)), "")
    rules = rules_from(env, repository=repository, token=token, older_than=args.older_than,
                       named=args.include)
    fdl = load_fdl(args.fdl, config_path=args.config) if args.fdl else None
    aws = engine.aws_for(fdl) if fdl else Aws()
    oscar = known_clusters(fdl, args)
    say = say_to(stderr=args.json)
    verdicts = judge_all(aws, rules, oscar)
    say(render_verdicts(verdicts, args.dry_run))
    done = prune(aws, verdicts, dry_run=args.dry_run, data=args.delete_data, say=say,
                 oscar=oscar)
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, "scopes": [v.to_dict() for v in verdicts],
                          "plans": [json.loads(plan.to_json()) for _, plan in done]}, indent=2))
    return 0


def list_all_scopes(aws: Aws, as_json: bool, oscar: Oscar) -> int:
    """`ls --all-scopes`: every scope (on AWS and the OSCAR clusters `oscar` knows) with its
    origin, age, functions, API URLs and services."""
    from scar_ci.aws.inventory import add_api_urls, deployed_scopes, merged

    scopes = merged(deployed_scopes(aws), oscar.scopes())
    add_api_urls(aws, scopes)
    if as_json:
        print(json.dumps([_scope_dict(d) for d in scopes], indent=2))
        return 0
    if not scopes:
        print("no scope deployed by scar-ci here")
        return 0
    rows = [("SCOPE", "ORIGIN", "REPOSITORY", "AGE", "FUNCTIONS", "API URLS", "OSCAR SERVICES")]
    rows.extend((d.scope.label, d.scope.origin, d.scope.source or "-", age_of(d),
                 ",".join(sorted(d.functions)) or "-",
                 " ".join(d.urls[f] for f in sorted(d.urls)) or "-",
                 ",".join(sorted(d.services)) or "-") for d in scopes)
    print(table(rows))
    return 0


def _scope_dict(found: DeployedScope) -> dict[str, Any]:
    from scar_ci.scopes.scope import created_at

    scope, created = found.scope, created_at(found.scope)
    return {"scope": scope.label, "kind": scope.kind.value, "ref": scope.ident,
            "pull_request": int(scope.ident) if scope.kind == "pr" and scope.ident else None,
            "repository": scope.source, "created": scope.created,
            "age_seconds": int((datetime.now(UTC) - created).total_seconds()) if created
            else None, "functions": sorted(found.functions), "urls": found.urls,
            "services": sorted(found.services)}


def add_prune_verb(verbs: Any, wrap: Callable[[Handler], Handler],
                   add_fdl: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `prune`; `wrap` turns AWS errors into user errors."""
    summary = "tear down previews whose pull request closed, whose branch is gone, or too old"
    p = verbs.add_parser("prune", help=summary, description=(
        f"{summary[0].upper()}{summary[1:]}. Scopes are found by tag in one pass; GitHub is "
        "asked about each preview ($GITHUB_TOKEN, $GITHUB_API_URL). Production and release "
        "tags are kept unless named with --include; scopes of other repositories always."))
    add_fdl(p)
    p.set_defaults(fdl=None)
    p.add_argument("--older-than", metavar="AGE",
                   help="also remove previews and manual scopes created longer ago than AGE "
                        "(30m, 12h, 7d, 2w); the only rule without a GitHub token")
    p.add_argument("--repository", metavar="OWNER/NAME",
                   help="the repository whose scopes to judge (default: $GITHUB_REPOSITORY; "
                        "without one, the scopes deployed outside GitHub)")
    p.add_argument("--include", action="append", default=[], metavar="SCOPE",
                   help="also judge this production or release-tag scope by the same rules "
                        "(its stage name as ls shows it; repeatable)")
    p.add_argument("--delete-data", choices=("previews", "true", "false"), default="previews",
                   help="delete buckets holding objects scar-ci did not write: for pull "
                        "request and branch previews (default), always, or never")
    p.add_argument("--dry-run", action="store_true",
                   help="print the verdicts and each teardown's plan; change nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=wrap(cmd_prune))
