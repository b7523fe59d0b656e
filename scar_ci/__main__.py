"""`python -m scar_ci` is the `scar-ci` command."""

from scar_ci.cli import run

run()
