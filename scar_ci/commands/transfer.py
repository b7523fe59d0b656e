"""The put / get / ls -b commands: where the files go, then storage.py moves them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scar_ci.aws.session import Aws
from scar_ci.commands.definition import profile_override
from scar_ci.commands.output import say_to
from scar_ci.commands.storage import bucket_path, get, list_files, put, render_files
from scar_ci.commands.target import ScopeOf, single, targets
from scar_ci.errors import UsageError


def _place(args: argparse.Namespace, scope_of: ScopeOf, which: str) -> tuple[Aws, str, str]:
    """The session, bucket and path: `-b`, else the function's first input/output folder."""
    if args.bucket:
        from scar_ci.deploy import engine
        from scar_ci.fdl import load_fdl

        aws = engine.aws_for(load_fdl(args.fdl, config_path=args.config,
                                  overrides=profile_override(args))) if args.fdl else Aws()
        return (aws, *bucket_path(args.bucket))
    if not args.fdl:
        raise UsageError(f"say where: -b BUCKET/PATH, or -f FDL for the function's {which} "
                         "folder")
    aws, found = targets(args, scope_of)
    target = single(found, args)
    folders = target.input_folders() if which == "input" else target.output_folders()
    if not folders:
        raise UsageError(f"{target.name} has no S3 {which} folder in {args.fdl}; "
                         "give -b BUCKET/PATH")
    return (aws, *folders[0])


def cmd_put(args: argparse.Namespace, scope_of: ScopeOf) -> int:
    """Upload a file or a folder (default place: the function's input folder)."""
    from scar_ci.commands.services import put_service, service_target

    if (service := service_target(args, scope_of)) is not None:
        return put_service(args, service)
    aws, bucket, folder = _place(args, scope_of, "input")
    keys = put(aws, Path(args.path), bucket, folder, say_to())
    print(f"put: {len(keys)} file(s) uploaded to s3://{bucket}/{folder}")
    return 0


def cmd_get(args: argparse.Namespace, scope_of: ScopeOf) -> int:
    """Download a file or a folder (default place: the function's output folder)."""
    from scar_ci.commands.services import get_service, service_target

    if (service := service_target(args, scope_of)) is not None:
        return get_service(args, service)
    aws, bucket, path = _place(args, scope_of, "output")
    written = get(aws, bucket, path, Path(args.path), say_to())
    print(f"get: {len(written)} file(s) downloaded from s3://{bucket}/{path}")
    return 0


def list_bucket(args: argparse.Namespace, aws: Aws) -> int:
    """`ls -b BUCKET/PATH`: the files there, with size and time."""
    rows = list_files(aws, *bucket_path(args.bucket))
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        print(render_files(rows))
    return 0
