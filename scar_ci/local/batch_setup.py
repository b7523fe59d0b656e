"""What an AWS account has for Batch before SCAR's first deploy, made in local mode's moto.

SCAR's defaults name the service role `service-role/AWSBatchServiceRole` and the instance
profile `ecsInstanceRole` (AWS creates both with Batch's first compute environment):
`scar-ci local up` creates the two in moto's IAM. SCAR's documentation has the user fill
`batch.compute_resources.subnets` and `security_group_ids` with their VPC's: `scar-ci local
status` prints moto's default VPC (its default subnets and security group), read the first
time it is asked (moto's EC2 takes a second to start: not at `up`) and kept in
`<state>/batch.json`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from scar_ci.local.errors import LocalError
from scar_ci.local.image_services import MOTO_LOG

BATCH_FILE = "batch.json"
REGION = "us-east-1"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    for service in ("batch.amazonaws.com", "ec2.amazonaws.com")]}
T = TypeVar("T")


@dataclass(frozen=True)
class BatchNetwork:
    """moto's default VPC: what the FDL's batch.compute_resources can name."""

    subnets: tuple[str, ...]
    security_group: str


def prepare(moto_url: str, state_dir: Path) -> None:
    """Create SCAR's default Batch roles in moto."""
    _calling("create SCAR's default Batch roles", moto_url, state_dir, _roles)


def network(moto_url: str, state_dir: Path) -> BatchNetwork:
    """moto's default VPC: recorded, else read from moto's EC2 and recorded."""
    if recorded := read(state_dir):
        return recorded
    found = _calling("read the default VPC", moto_url, state_dir, _default_vpc)
    (state_dir / BATCH_FILE).write_text(json.dumps(asdict(found)))
    return found


def _calling(doing: str, moto_url: str, state_dir: Path, calls: Callable[[Any, str], T]) -> T:
    """`calls(session, moto_url)`, its failures one LocalError saying what it was `doing`, with
    moto's log."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",  # noqa: S106
                                    region_name=REGION)
    try:
        return calls(session, moto_url)
    except (BotoCoreError, ClientError, IndexError, KeyError) as error:
        raise LocalError(f"cannot {doing} in moto at {moto_url}: {error} (its log: "
                         f"{state_dir / MOTO_LOG})") from None


def _roles(session: Any, moto_url: str) -> None:
    """SCAR's default service role and instance profile (with its role), in moto's IAM."""
    iam = session.client("iam", endpoint_url=moto_url)
    trust = json.dumps(TRUST)
    iam.create_role(RoleName="AWSBatchServiceRole", Path="/service-role/",
                    AssumeRolePolicyDocument=trust)
    iam.create_role(RoleName="ecsInstanceRole", AssumeRolePolicyDocument=trust)
    iam.create_instance_profile(InstanceProfileName="ecsInstanceRole")
    iam.add_role_to_instance_profile(InstanceProfileName="ecsInstanceRole",
                                     RoleName="ecsInstanceRole")


def _default_vpc(session: Any, moto_url: str) -> BatchNetwork:
    """The default VPC's subnets and `default` security group, from moto's EC2."""
    ec2 = session.client("ec2", endpoint_url=moto_url)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    in_vpc = {"Name": "vpc-id", "Values": [vpc["VpcId"]]}
    subnets = ec2.describe_subnets(Filters=[in_vpc])
    groups = ec2.describe_security_groups(
        Filters=[in_vpc, {"Name": "group-name", "Values": ["default"]}])
    return BatchNetwork(tuple(sorted(s["SubnetId"] for s in subnets["Subnets"])),
                        groups["SecurityGroups"][0]["GroupId"])


def read(state_dir: Path) -> BatchNetwork | None:
    """The network `network` recorded, if any."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        recorded = json.loads((state_dir / BATCH_FILE).read_text())
        return BatchNetwork(tuple(recorded["subnets"]), recorded["security_group"])
    return None


def describe(found: BatchNetwork) -> str:
    """`status`'s words for moto's default VPC."""
    return (f"its default VPC: subnets {', '.join(found.subnets)}; security group "
            f"{found.security_group} (for batch.compute_resources)")
