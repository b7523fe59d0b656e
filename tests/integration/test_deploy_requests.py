"""How many requests a cold deploy and a teardown make, counted by the test bed's latency
proxy (0 ms) in front of LocalStack: each resource costs what its calls need and no more (no
read of what the discovery's listings show absent, no waiter poll a create's answer settles,
no fact read twice). Counts, not times: the Active waiter's polls and the notification
batches depend on timing, and are bounded instead of fixed. The discovery's tag reads are seen
side by side: the most requests in flight, through a second proxy delaying each answer."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from deploy_helpers import deploy, function, teardown, write_fdl

from scar_ci.aws.iam import discover_roles
from scar_ci.aws.lambda_ import discover_functions
from scar_ci.aws.logs import discover_log_groups
from scar_ci.aws.session import Aws
from scar_ci.scopes.scope import Scope
from scar_testbed.fixtures_aws import LocalStack
from scar_testbed.latency_proxy import (
    ACCOUNT_WIDE,
    LOCK,
    Counts,
    LatencyProxy,
    latency_proxy,
)

FUNCTIONS = 5
# Reads made once per run whatever the FDL's size (ACCOUNT_WIDE): the discovery's listings
# (which also tell the plan what is absent; a page each, and LocalStack holds the other
# tests' resources too), the layer's versions, the scope's creation time; and the ones read
# exactly once.
SINGLE = {("sts", "GetCallerIdentity"), ("s3", "ListBuckets"), ("s3", "GetBucketTagging")}
LAYER = ("lambda", "PublishLayerVersion")  # once per layer content, shared by every test
ONCE = ACCOUNT_WIDE - SINGLE - {LAYER}
WAIT = ("lambda", "GetFunction")  # the Active waiter's polls: at least one per function
NOTIFICATIONS = (("s3", "GetBucketNotification"), ("s3", "PutBucketNotification"))


@pytest.fixture
def proxy(localstack: LocalStack, monkeypatch: pytest.MonkeyPatch):
    with latency_proxy(localstack.endpoint_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        yield proxy


def five_functions(folder: Path, bucket: str) -> Path:
    """a and b chained through `mid`, c and d plain, e behind an API: 9 folders, 5 triggers."""
    return write_fdl(folder, [
        function("a", bucket, inputs="a-in", outputs="mid"),
        function("b", bucket, inputs="mid", outputs="b-out"),
        function("c", bucket, inputs="c-in", outputs="c-out"),
        function("d", bucket, inputs="d-in", outputs="d-out"),
        function("e", bucket, inputs="e-in", outputs="e-out", api_gateway={"name": "e"})])


def measured(proxy: LatencyProxy, step) -> Counter[tuple[str, str]]:
    proxy.reset()
    step()
    counts: Counts = proxy.counts()
    return Counter({op: n for op, n in counts.requests.items() if op[0] != LOCK})


def listed(requests: Counter[tuple[str, str]]) -> str:
    return "\n".join(f"{n:4}  {service} {operation}"
                     for (service, operation), n in sorted(requests.items()))


def per_function(requests: Counter[tuple[str, str]]) -> float:
    """Requests per function, once-per-run reads aside and one Active poll per function."""
    variable = sum(n for op, n in requests.items()
                   if op not in ONCE | SINGLE and op not in (WAIT, LAYER))
    return (variable + FUNCTIONS) / FUNCTIONS


def check(requests: Counter[tuple[str, str]], expected: dict[tuple[str, str], int]) -> None:
    """`requests` are `expected` exactly, the single reads once, the notification
    configuration read once per write (at most one write per trigger)."""
    batches = requests[NOTIFICATIONS[1]]
    fixed = {op: n for op, n in requests.items()
             if op not in ONCE | SINGLE and op not in (WAIT, LAYER, *NOTIFICATIONS)}
    twice = {op: n for op, n in requests.items() if op in SINGLE and n > 1}
    message = (f"requests per function {per_function(requests):.1f}; all requests:\n"
               f"{listed(requests)}")
    assert fixed == expected, message
    assert twice == {}, message
    assert 1 <= batches <= FUNCTIONS and requests[NOTIFICATIONS[0]] <= batches + 1, message


def discovered_side_by_side(localstack: LocalStack, monkeypatch: pytest.MonkeyPatch,
                            scope: Scope) -> dict[str, tuple[int, int]]:
    """(resources found, most requests in flight) of each discovery with per-candidate tag
    reads, each alone, through a proxy delaying every answer 50 ms so that reads made side by
    side are seen together (a count, not a time)."""
    discoveries = {"lambda": discover_functions, "iam": discover_roles,
                   "logs": discover_log_groups}
    seen = {}
    with latency_proxy(localstack.endpoint_url, delay_s=0.05) as slow:
        monkeypatch.setenv("AWS_ENDPOINT_URL", slow.url)
        for service, discovery in discoveries.items():
            aws = Aws()
            slow.reset()
            found = list(discovery(aws, scope))
            seen[service] = (len(found), slow.counts().max_in_flight)
    return seen


def test_a_cold_deploy_and_a_teardown_cost_what_their_resources_need(
        proxy: LatencyProxy, localstack: LocalStack, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, unique_name: str) -> None:
    scope = Scope.parse(f"manual:{unique_name}")
    fdl = five_functions(tmp_path, unique_name)

    cold = measured(proxy, lambda: deploy(fdl, scope, Aws()))
    per = {op: FUNCTIONS for op in (("iam", "CreateRole"), ("iam", "PutRolePolicy"),
                                    ("logs", "CreateLogGroup"), ("logs", "PutRetentionPolicy"),
                                    ("lambda", "CreateFunction"))}
    check(cold, {**per, ("lambda", "AddPermission"): FUNCTIONS + 1,  # 5 triggers, 1 API
                 ("s3", "CreateBucket"): 1, ("s3", "PutBucketTagging"): 1,
                 ("s3", "PutObject"): 9,  # one marker per folder
                 ("apigateway", "CreateRestApi"): 1,
                 ("apigateway", "PutRestApi"): 1,  # its routes and integrations at once
                 ("apigateway", "CreateDeployment"): 1})  # no policy read: new functions
    assert cold[WAIT] >= FUNCTIONS, listed(cold)
    # a bucket this run created has no notifications to read before its first batch
    assert cold[NOTIFICATIONS[0]] == cold[NOTIFICATIONS[1]] - 1, listed(cold)

    # teardown's discovery reads each function's, role's and log group's tags side by side
    seen = discovered_side_by_side(localstack, monkeypatch, scope)
    assert all(found == FUNCTIONS and in_flight > 1
               for found, in_flight in seen.values()), seen
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)

    down = measured(proxy, lambda: teardown(scope, Aws()))
    per = {op: FUNCTIONS for op in (
        ("iam", "ListRoleTags"), ("lambda", "ListTags"), ("lambda", "GetPolicy"),
        ("logs", "ListTagsLogGroup"),  # the discovery's tag reads, each once
        ("iam", "DeleteRolePolicy"), ("iam", "DeleteRole"), ("lambda", "DeleteFunction"),
        ("lambda", "RemovePermission"), ("logs", "DeleteLogGroup"))}
    check(down, {**per, ("apigateway", "DeleteRestApi"): 1, ("s3", "ListObjectsV2"): 1,
                 ("s3", "DeleteObjects"): 1, ("s3", "DeleteBucket"): 1})
    assert WAIT not in down, listed(down)
