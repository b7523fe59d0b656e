"""A quick start (issue 17): `--version` and `validate` load neither boto3 nor the image
builders nor local mode (scar_ci/lazy.py says how verbs keep it so)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "pipeline" / "scar.yaml"
ANY_VERB = ("boto3", "botocore", "s3transfer", "docker", "scar_ci.deploy.", "scar_ci.aws.",
            "scar_ci.local.", "scar_ci.package.")
# What the parser may load of those rooms: constants and argparse helpers (the package
# scar_ci.package.image itself is a docstring).
LIGHT = ("scar_ci.local.commands", "scar_ci.package.image",
         "scar_ci.package.image.builder_choice")
VERSION_ONLY = ("jsonschema", "yaml", "scar_ci.fdl")
# Standard modules the parser got along without, each worth milliseconds of `--version`:
# dataclasses (inspect, ast, tokenize) and secrets (hashlib, hmac, random).
VERSION_STDLIB = ("dataclasses", "inspect", "secrets", "hashlib", "base64")


def imported(*argv: str, python: tuple[str, ...] = ("-m", "scar_ci")) -> set[str]:
    """The modules `python -m scar_ci ARGV` imports, as `python -X importtime` lists them."""
    done = subprocess.run([sys.executable, "-X", "importtime", *python, *argv],
                          capture_output=True, text=True, check=True)
    return {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:")}


def heavy(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes) and m not in LIGHT)


def test_version_imports_no_aws_schema_image_or_local_code() -> None:
    modules = imported("--version")
    assert "scar_ci.cli" in modules  # the listing works
    assert heavy(modules, ANY_VERB + VERSION_ONLY) == []
    assert sorted(m for m in modules if m in VERSION_STDLIB) == []


def test_validate_imports_no_aws_image_or_local_code() -> None:
    modules = imported("validate", "-f", str(EXAMPLE))
    assert "scar_ci.fdl.loader" in modules
    assert heavy(modules, ANY_VERB) == []


def test_the_deploy_core_loads_no_oscar_client_nor_image_builder_until_used() -> None:
    """A deploy of plain zip functions pays for neither oscar-python (and its aiohttp), nor
    the OSCAR client and the image registry client (requests), nor the image builders (ELF
    parsing, the daemonless builder): a quarter of a second a process."""
    modules = imported(python=("-c", "import scar_ci.deploy.engine"))
    assert "scar_ci.deploy.discovery" in modules  # the listing works
    assert sorted(m for m in modules if m.startswith(("oscar_python", "aiohttp", "requests"))
                  or m in ("scar_ci.oscar.client", "scar_ci.package.image.spec",
                           "scar_ci.package.image.registry", "scar_ci.package.image.build",
                           "scar_ci.package.image.elf", "scar_ci.package.image.daemonless",
                           "scar_ci.package.image.job")) == []
