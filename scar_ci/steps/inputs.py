"""The action's inputs, read the way the runner passes them: `INPUT_<NAME>` variables.

The runner upper-cases the input's name and turns spaces into underscores, but keeps
hyphens: `smoke-test` arrives as `INPUT_SMOKE-TEST`. Inputs with a default in action.yml
always arrive; an empty value means "not given".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from scar_ci.errors import UsageError
from scar_ci.package.image.builder_choice import BUILDERS

COMMANDS = ("validate", "plan", "deploy", "invoke", "teardown", "prune", "drift", "auto")
DELETE_DATA = ("previews", "true", "false")
_TRUE, _FALSE = {"true", "True", "TRUE"}, {"false", "False", "FALSE"}


class InputError(UsageError):
    """An input of the action has a value it does not accept."""


def env_name(name: str) -> str:
    """The variable the runner sets for input `name`."""
    return f"INPUT_{name.replace(' ', '_').upper()}"


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str = "") -> str:
        return self.env.get(env_name(name), "").strip() or default

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if not value:
            return default
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        raise InputError(f"input '{name}': '{value[:40]}' is not true or false "
                         f"(YAML booleans: true, false)")

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        """One of `choices`, or `default` when not given ('' for "leave it to others")."""
        value = self.text(name, default)
        if value not in choices and value != default:
            raise InputError(f"input '{name}': '{value[:40]}' is not one of "
                             f"{', '.join(choices)}")
        return value


@dataclass(frozen=True)
class ActionInputs:
    """Everything `with:` can set; see action.yml for the meaning and defaults."""

    command: str = "auto"
    fdl: str = "scar.yaml"
    scope: str | None = None
    smoke_test: bool = True
    smoke_function: str | None = None
    smoke_payload: str | None = None
    smoke_file: str | None = None
    aws_region: str | None = None
    comment_on_pr: bool = True
    allow_forks: bool = False
    delete_data: str = "previews"
    github_token: str = ""
    image_builder: str = ""  # '' = $SCAR_CI_IMAGE_BUILDER, else auto
    older_than: str | None = None  # prune: also previews created longer ago (7d)
    dry_run: bool = False  # prune: plan only
    include: tuple[str, ...] = ()  # prune: production / release-tag scopes judged too

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActionInputs:
        """The inputs from `INPUT_*` variables; InputError for a value out of range."""
        read = _Reader(os.environ if env is None else env)
        inputs = cls(
            command=read.choice("command", COMMANDS, "auto"),
            fdl=read.text("fdl", "scar.yaml"),
            scope=read.optional("scope"),
            smoke_test=read.flag("smoke-test", True),
            smoke_function=read.optional("smoke-function"),
            smoke_payload=read.optional("smoke-payload"),
            smoke_file=read.optional("smoke-file"),
            aws_region=read.optional("aws-region"),
            comment_on_pr=read.flag("comment-on-pr", True),
            allow_forks=read.flag("allow-forks", False),
            delete_data=read.choice("delete-data", DELETE_DATA, "previews"),
            github_token=read.text("github-token"),
            image_builder=read.choice("image-builder", BUILDERS, ""),
            older_than=read.optional("older-than"),
            dry_run=read.flag("dry-run", False),
            include=tuple(read.text("include").replace(",", " ").split()),
        )
        if inputs.smoke_payload and inputs.smoke_file:
            raise InputError("inputs 'smoke-payload' and 'smoke-file' are both set; "
                             "give one of them")
        return inputs
