"""What an FDL names and scar-ci does not create, checked while planning: the role given in
`iam.role` and the extra `lambda.layers` must exist, or CreateFunction would refuse them in the
middle of the apply, after the log group and the buckets were made."""

from __future__ import annotations

import re
from collections.abc import Iterator

from scar_ci.aws.errors import error_code
from scar_ci.aws.iam import account_roles
from scar_ci.aws.session import Aws
from scar_ci.errors import UserError
from scar_ci.fdl import Fdl
from scar_ci.fdl.located import format_path

# arn:aws:iam::<account>:role/<path/><name>, IAM's characters for paths and names
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})")


class MissingPrerequisite(UserError):
    """The FDL names a role or a layer the account does not have (nothing was changed)."""


def check_prerequisites(fdl: Fdl, aws: Aws) -> None:
    """Refuse, before any change, roles and layers the functions name and cannot get."""
    problems = list(_problems(fdl, aws))
    if problems:
        raise MissingPrerequisite("\n".join([*problems, "nothing was changed"]))


def _problems(fdl: Fdl, aws: Aws) -> Iterator[str]:
    """One line per role or layer the account lacks: its FDL place, then why."""
    for index, function in enumerate(fdl.functions):
        item = ("functions", "aws", index)
        if function.iam_role:
            where = fdl.position_of((*item, "iam", "role"))
            if (why := _role_problem(function.iam_role, aws)) is not None:
                yield f"{where}: {format_path((*item, 'iam', 'role'))}: {why}"
        for number, arn in enumerate(function.layers):
            where = fdl.position_of((*item, "lambda", "layers", number))
            if (why := _layer_problem(arn, aws)) is not None:
                yield f"{where}: {format_path((*item, 'lambda', 'layers', number))}: {why}"


def _role_problem(arn: str, aws: Aws) -> str | None:
    """Why `arn` names no role of this account (None: it does, or another account's)."""
    found = _ROLE_ARN.fullmatch(arn)
    if found is None:
        return (f"{arn!r} is not a role ARN (arn:aws:iam::<account>:role/<name>); give an "
                "existing role's ARN, or leave iam.role empty and scar-ci creates a "
                "least-privilege role")
    account, name = found.groups()
    if account != aws.account_id:
        return None  # another account's roles cannot be listed here; Lambda decides
    if any(role["RoleName"] == name for role in account_roles(aws)):
        return None
    return (f"{arn!r}: account {account} has no role {name}; create it first, or leave "
            "iam.role empty and scar-ci creates a least-privilege role")


def _layer_problem(arn: str, aws: Aws) -> str | None:
    """Why these credentials cannot attach layer version `arn` (None: they can); read once
    per run."""
    from botocore.exceptions import ClientError

    def read() -> str | None:
        try:
            aws.client("lambda").get_layer_version_by_arn(Arn=arn)
        except ClientError as error:
            code = error_code(error)
            if code in ("ResourceNotFoundException", "NotFoundException"):
                return f"{arn!r}: no such layer version; publish it first, or remove it"
            if code in ("AccessDeniedException", "AccessDenied"):
                return (f"{arn!r}: these credentials may not read it (lambda:GetLayerVersion), "
                        "which Lambda needs to attach it; ask its owner to share the version")
            if code in ("ValidationException", "InvalidParameterValueException"):
                return (f"{arn!r} is not a layer version ARN "
                        "(arn:aws:lambda:<region>:<account>:layer:<name>:<version>)")
            raise
        return None

    return aws.fact(("layer version", arn), read)
