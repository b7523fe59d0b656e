"""Telling AWS error codes apart without importing botocore everywhere."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

from scar_ci.errors import UserError

NOT_FOUND = frozenset({
    "ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "NotFoundException",
    "NoSuchKey", "404", "NoSuchBucketPolicy", "RepositoryNotFoundException",
    "LifecyclePolicyNotFoundException",
})

# What botocore raises when AWS refuses, is unreachable, or answers garbage.
AWS_EXCEPTIONS = (BotoCoreError, ClientError, ResponseParserError)


def error_code(error: ClientError) -> str:
    """The error code AWS returned (`NoSuchBucket`, `404`, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: BaseException) -> bool:
    """True for the "it does not exist" answers of the services scar-ci uses."""
    return isinstance(error, ClientError) and error_code(error) in NOT_FOUND


class AwsFailure(UserError):
    """AWS refused or could not be reached; the message says which call and why."""


def explain(error: Exception) -> AwsFailure:
    """A user-facing error for a botocore exception."""
    if isinstance(error, ClientError):
        operation = getattr(error, "operation_name", "a call")
        message = error.response.get("Error", {}).get("Message") or error_code(error)
        return AwsFailure(f"AWS refused {operation}: {error_code(error)}: {message}")
    if isinstance(error, NoCredentialsError):
        return AwsFailure("no AWS credentials found: configure them the standard way "
                          "(aws-actions/configure-aws-credentials, AWS_PROFILE, or "
                          "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    return AwsFailure(f"cannot talk to AWS: {error}")
