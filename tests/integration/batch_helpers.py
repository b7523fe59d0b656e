"""Shared by the Batch tests: what moto's Batch needs to exist (its own IAM roles and EC2
network), and an FDL with one `batch` function on the test bed's registry image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import yaml

MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                    "region_name": "us-east-1"}
TRUST_BATCH = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
               '{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}')
JOB_SCRIPT = 'echo "batch job: $(wc -c < "$INPUT_FILE_PATH") bytes" > "$TMP_OUTPUT_DIR/done.txt"\n'


def moto_client(moto_url: str, service: str) -> Any:
    return boto3.session.Session(**MOTO_CREDENTIALS).client(service, endpoint_url=moto_url)


def batch_network(moto_url: str, name: str) -> dict[str, Any]:
    """A subnet, a security group, the service role and the instance profile in moto (its
    Batch checks them in its own EC2 and IAM); the FDL's `batch` section naming them."""
    ec2, iam = moto_client(moto_url, "ec2"), moto_client(moto_url, "iam")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=name, Description="scar-ci batch test",
                                      VpcId=vpc)["GroupId"]
    service = iam.create_role(RoleName=f"{name}-batch", AssumeRolePolicyDocument=TRUST_BATCH,
                              Path="/service-role/")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-ecs")
    return {"service_role": service, "memory": 2048, "vcpus": 1,
            "compute_resources": {"subnets": [subnet], "security_group_ids": [group],
                                  "instance_role": profile["InstanceProfile"]["Arn"],
                                  "max_v_cpus": 4}}


def write_batch_fdl(folder: Path, image: str, bucket: str, batch: dict[str, Any],
                    mode: str = "batch", **lambda_settings: Any) -> Path:
    """One function `job` in `mode`, reading bucket/input and writing bucket/output."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.sh").write_text(JOB_SCRIPT)
    lam = {"name": "job", "init_script": "job.sh", "execution_mode": mode,
           "container": {"image": image},
           "input": [{"storage_provider": "s3", "path": f"{bucket}/input"}],
           "output": [{"storage_provider": "s3", "path": f"{bucket}/output"}],
           **lambda_settings}
    path = folder / "scar.yaml"
    path.write_text(yaml.safe_dump({"functions": {"aws": [{"lambda": lam, "batch": batch}]}}))
    return path
