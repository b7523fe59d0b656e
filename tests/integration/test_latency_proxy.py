"""The benchmarks' latency proxy: boto3 through it reaches LocalStack, bodies intact both ways,
every request is counted by service, operation and read/mutating, each waits the delay, and
the peak of requests in flight is seen, and the upstream's own time told from the delay."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

from scar_testbed.fixtures_aws import LocalStack
from scar_testbed.latency_proxy import Counts, latency_proxy


def _client(service: str, url: str):
    return boto3.client(service, endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))


def test_counts_operations_and_delays_each_request(
        localstack: LocalStack, unique_name: str) -> None:
    delays: list[float] = []
    big = os.urandom(300 * 1024)  # over the proxy's read-at-once size: streamed
    with latency_proxy(localstack.endpoint_url, delay_s=0.04, sleep=delays.append) as proxy:
        s3, iam = _client("s3", proxy.url), _client("iam", proxy.url)
        s3.create_bucket(Bucket=unique_name)
        s3.put_object(Bucket=unique_name, Key="a/b.bin", Body=big)
        assert s3.get_object(Bucket=unique_name, Key="a/b.bin")["Body"].read() == big
        s3.head_object(Bucket=unique_name, Key="a/b.bin")
        s3.list_objects_v2(Bucket=unique_name)
        iam.list_roles(MaxItems=1)
        _client("logs", proxy.url).describe_log_groups(limit=1)
        counts = proxy.counts()
    assert counts.requests == {
        ("s3", "CreateBucket"): 1, ("s3", "PutObject"): 1, ("s3", "GetObject"): 1,
        ("s3", "HeadObject"): 1, ("s3", "ListObjectsV2"): 1, ("iam", "ListRoles"): 1,
        ("logs", "DescribeLogGroups"): 1,
    }
    assert (counts.total, counts.mutating) == (7, 2)
    assert delays == [0.04] * 7
    assert counts.max_in_flight == 1
    assert len(counts.spans) == 7 and all(a <= p <= e for a, p, e in counts.spans)


def test_the_upstreams_time_is_told_from_the_delay_and_overlaps_once() -> None:
    """Spans (arrived, passed on, answered): two overlapping requests and a later one."""
    counts = Counts(spans=[(0.0, 1.0, 3.0), (2.0, 2.5, 4.0), (10.0, 10.0, 11.0)])
    assert counts.upstream_s() == 4.5  # 2 + 1.5 + 1, each request's own
    assert counts.busy_s(upstream=True) == 4.0  # 1..4 and 10..11
    assert counts.busy_s(upstream=False) == 5.0  # 0..4 and 10..11, delays included


def test_sees_requests_in_flight_together_and_resets(localstack: LocalStack) -> None:
    together = threading.Barrier(3, timeout=30)  # each request's "delay" waits for the others
    with latency_proxy(localstack.endpoint_url, sleep=lambda _: together.wait()) as proxy:
        sts = [_client("sts", proxy.url) for _ in range(3)]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda client: client.get_caller_identity(), sts))
        counts = proxy.counts()
        proxy.reset()
        assert proxy.counts().total == 0
    assert counts.requests == {("sts", "GetCallerIdentity"): 3}
    assert counts.max_in_flight == 3


def test_the_scope_locks_requests_are_counted_apart_from_the_deployments(
        localstack: LocalStack, unique_name: str) -> None:
    with latency_proxy(localstack.endpoint_url) as proxy:
        ssm = _client("ssm", proxy.url)
        for name in (f"/scar-ci-locks/{unique_name}/0000000001", f"/scar-ci/{unique_name}/x"):
            ssm.put_parameter(Name=name, Value="v", Type="String")
            ssm.delete_parameter(Name=name)
        counts = proxy.counts()
    assert counts.requests == {("scope lock", "PutParameter"): 1,
                               ("scope lock", "DeleteParameter"): 1,
                               ("ssm", "PutParameter"): 1, ("ssm", "DeleteParameter"): 1}
    assert (counts.mutating, counts.lock) == (2, 2)
