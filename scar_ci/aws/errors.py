"""Telling AWS error codes apart without importing botocore everywhere."""

from __future__ import annotations

import os

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from scar_ci.errors import UserError

NOT_FOUND = frozenset({
    "ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "NotFoundException",
    "NoSuchKey", "404", "NoSuchBucketPolicy", "RepositoryNotFoundException",
    "LifecyclePolicyNotFoundException", "ParameterNotFound", "InvalidResourceId",
})

# What boto3 raises when AWS refuses, is unreachable, or answers garbage.
AWS_EXCEPTIONS = (BotoCoreError, ClientError, ResponseParserError, S3UploadFailedError)


def error_code(error: ClientError) -> str:
    """The error code AWS returned (`NoSuchBucket`, `404`, ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_not_found(error: BaseException) -> bool:
    """True for the "it does not exist" answers of the services scar-ci uses."""
    return isinstance(error, ClientError) and error_code(error) in NOT_FOUND


class AwsFailure(UserError):
    """AWS refused or could not be reached; the message says which call and why."""


def explain(error: Exception) -> AwsFailure:
    """A user-facing error for a boto3 exception."""
    if isinstance(error, S3UploadFailedError) and isinstance(error.__context__, ClientError):
        error = error.__context__  # boto3 wraps PutObject's refusal in its own message
    if isinstance(error, ClientError):
        operation = getattr(error, "operation_name", "a call")
        details = error.response.get("Error", {})
        message = details.get("Message") or error_code(error)
        if details.get("BucketName"):  # S3 names the bucket it did not find
            message += (f": {details['BucketName']}; check the name, or deploy the scope first "
                        "('scar-ci ls' lists what is deployed)")
        elif message.startswith("Function not found"):  # Lambda's, for any call on a name
            message += "; 'scar-ci ls' lists the deployed functions"
        return AwsFailure(f"AWS refused {operation}: {error_code(error)}: {message}")
    if isinstance(error, NoCredentialsError):
        return AwsFailure("no AWS credentials found: configure them the standard way "
                          "(aws-actions/configure-aws-credentials, AWS_PROFILE, or "
                          "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    if isinstance(error, ProfileNotFound):
        return AwsFailure(f"AWS profile {error.kwargs.get('profile')!r} not found: check "
                          "AWS_PROFILE or the FDL's boto_profile ('aws configure list-profiles' "
                          "lists them)")
    if isinstance(error, InvalidRegionError):
        return AwsFailure(f"{error.kwargs.get('region_name')!r} is not an AWS region: check "
                          "AWS_REGION / AWS_DEFAULT_REGION or the FDL's region (e.g. us-east-1)")
    if isinstance(error, EndpointConnectionError):
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        where = f"AWS_ENDPOINT_URL (now {endpoint})" if endpoint else "the region"
        return AwsFailure(f"cannot talk to AWS: {error}: check the network, and {where}; "
                          "for local mode, 'scar-ci local status'")
    return AwsFailure(f"cannot talk to AWS: {error}")
