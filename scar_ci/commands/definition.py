"""SCAR's `init` flags: a function described on the command line, alone or over an FDL.

`scar-ci init -n scar-cowsay -i grycap/cowsay` needs no FDL file; with `-f FDL` the flags win
over the FDL for every function, as in SCAR (command line > FDL > configuration file).
The flags and what they set are SCAR 4.3.1's (scar/parser/cli/parents.py, subparsers.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scar_ci.errors import UsageError

if TYPE_CHECKING:
    from scar_ci.fdl import Fdl

DEFAULT_FDL = "scar.yaml"

# flag, long name, where it goes in one `functions.aws` item, argparse options, help.
# Files are made absolute: a flag's path is relative to the current folder, not to the FDL.
_FLAGS: tuple[tuple[str, str, tuple[str, ...], dict[str, Any], str], ...] = (
    ("-n", "--name", ("lambda", "name"), {}, "function name"),
    ("-d", "--description", ("lambda", "description"), {}, "function description"),
    ("-s", "--init-script", ("lambda", "init_script"), {"metavar": "FILE"},
     "script the container runs for each event"),
    ("-m", "--memory", ("lambda", "memory"), {"type": int, "metavar": "MB"},
     "memory in MB (128-10240)"),
    ("-t", "--timeout", ("lambda", "timeout"), {"type": int, "metavar": "S"},
     "maximum execution time in seconds (1-900)"),
    ("-tt", "--timeout-threshold", ("lambda", "container", "timeout_threshold"),
     {"type": int, "metavar": "S"}, "seconds kept at the end to upload the outputs"),
    ("-ll", "--log-level", ("lambda", "log_level"), {"metavar": "LEVEL"},
     "CRITICAL, ERROR, WARNING, INFO or DEBUG (any case)"),
    ("-l", "--layers", ("lambda", "layers"), {"action": "append", "metavar": "ARN"},
     "layer ARN (repeatable)"),
    ("-em", "--execution-mode", ("lambda", "execution_mode"), {"metavar": "MODE"},
     "lambda, lambda-batch or batch"),
    ("-rt", "--runtime", ("lambda", "runtime"), {"metavar": "RUNTIME"},
     "python3.x (udocker in a zip) or image (a container image function)"),
    ("-r", "--iam-role", ("iam", "role"), {"metavar": "ARN"},
     "role of the function (default: one scar-ci creates)"),
    ("-db", "--deployment-bucket", ("lambda", "deployment", "bucket"), {"metavar": "BUCKET"},
     "bucket for packages over Lambda's direct upload limit"),
    ("-api", "--api-gateway-name", ("api_gateway", "name"), {"metavar": "NAME"},
     "create a REST API of this name in front of the function"),
    ("-sv", "--supervisor-version", ("lambda", "supervisor", "version"), {"metavar": "VERSION"},
     "SCAR's supervisor version (scar-ci deploys its own: a notice)"),
    ("-ph", "--preheat", ("lambda", "preheat"), {"action": "store_true", "default": None},
     "invoke the function once after deploying"),
    ("-ep", "--extra-payload", ("lambda", "extra_payload"), {"metavar": "FOLDER"},
     "folder whose files are added to the function"),
    ("-bm", "--batch-memory", ("batch", "memory"), {"type": int, "metavar": "MB"},
     "memory of a Batch job"),
    ("-bc", "--batch-vcpus", ("batch", "vcpus"), {"type": int, "metavar": "N"},
     "vCPUs of a Batch job"),
    ("-g", "--enable-gpu", ("batch", "enable_gpu"), {"action": "store_true", "default": None},
     "reserve a GPU for a Batch job"),
)
_FILES = ("init_script", "extra_payload", "image_file")


def add_definition_flags(parser: argparse.ArgumentParser) -> None:
    """`-f FDL` or `-i IMAGE` / `-if FILE`, the function's flags, `-c` and `-pf`."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-f", "--fdl", "--conf-file", metavar="FDL",
                        help=f"FDL file describing the functions (default: {DEFAULT_FDL}, "
                             "unless -i or -if describe the function on the command line)")
    source.add_argument("-i", "--image", metavar="IMAGE",
                        help="container image of a function described by these flags")
    source.add_argument("-if", "--image-file", metavar="FILE",
                        help="`docker save` archive of a function described by these flags")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="configuration file with defaults (default: SCAR's, "
                             "$SCAR_CONFIG_FOLDER/scar.cfg or ~/.scar/scar.cfg, when it exists)")
    flags = parser.add_argument_group(
        "function (SCAR's init flags; with -f they win over the FDL for every function)")
    for short, long, _, options, summary in _FLAGS:
        flags.add_argument(short, long, help=summary, **options)
    flags.add_argument("-e", "--environment", action="append", default=[], metavar="NAME=VALUE",
                       help="variable of the container (repeatable)")
    flags.add_argument("-le", "--lambda-environment", action="append", default=[],
                       metavar="NAME=VALUE", help="variable of the Lambda function (repeatable)")
    flags.add_argument("-ib", "--input-bucket", metavar="BUCKET[/PATH]",
                       help="S3 input folder: each file put there runs the function")
    flags.add_argument("-ob", "--output-bucket", metavar="BUCKET[/PATH]",
                       help="S3 output folder for the files the function writes")
    flags.add_argument("-es", "--event-source", metavar="BUCKET",
                       help="SCAR 1.x: input folder BUCKET/input, output folder BUCKET/output")
    add_profile_flag(flags)


def add_profile_flag(parser: Any) -> None:
    """SCAR's `-pf/--profile` (ignored in local mode, whose credentials are fixed)."""
    parser.add_argument("-pf", "--profile", metavar="PROFILE",
                        help="AWS profile to use (wins over the FDL's boto_profile)")


def definition_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """What the flags set, shaped like one `functions.aws` item."""
    # here, not at the top: the parser imports this module, and invocation's imports (the
    # AWS session, scopes) would slow down `scar-ci --version` and `validate`
    from scar_ci.commands.invocation import parse_variables

    item: dict[str, Any] = {}
    for _, long, keys, _, _ in _FLAGS:
        value = getattr(args, long[2:].replace("-", "_"))
        if value is not None:
            _put(item, keys, str(Path(value).resolve()) if keys[-1] in _FILES else value)
    for flag, value in (("-i", args.image), ("-if", args.image_file)):
        if value is not None:
            key = "image" if flag == "-i" else "image_file"
            _put(item, ("lambda", "container", key),
                 value if key == "image" else str(Path(value).resolve()))
    if args.environment:
        _put(item, ("lambda", "container", "environment", "Variables"),
             parse_variables(args.environment, "-e"))
    if args.lambda_environment:
        _put(item, ("lambda", "environment", "Variables"),
             parse_variables(args.lambda_environment, "-le"))
    source = args.event_source
    inputs = args.input_bucket or (f"{source}/input" if source else None)
    outputs = args.output_bucket or (f"{source}/output" if source else None)
    for flag, key in ((inputs, "input"), (outputs, "output")):
        if flag:
            _put(item, ("lambda", key), [{"storage_provider": "s3", "path": flag}])
    if profile := profile_override(args):
        _put(item, ("lambda", "boto_profile"), profile["lambda"]["boto_profile"])
    return item


def profile_override(args: argparse.Namespace) -> dict[str, Any]:
    """`-pf PROFILE` as an FDL override (the command line wins over boto_profile)."""
    profile = getattr(args, "profile", None)
    return {"lambda": {"boto_profile": profile}} if profile else {}


def _put(item: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    node = item
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def load_definition(args: argparse.Namespace) -> Fdl:
    """The FDL of `init`/`deploy`/`plan`: `-f` (default scar.yaml) under the flags, or, with
    `-i`/`-if`, the one function the flags describe."""
    from scar_ci.fdl import load_fdl
    from scar_ci.fdl.loader import load_command_line

    overrides = definition_overrides(args)
    if args.image is None and args.image_file is None:
        return load_fdl(args.fdl or DEFAULT_FDL, config_path=args.config, overrides=overrides)
    if not overrides.get("lambda", {}).get("name"):
        raise UsageError("a function described on the command line needs a name: -n NAME "
                         "(or describe it in an FDL file: -f FDL)")
    return load_command_line(overrides, config_path=args.config)
