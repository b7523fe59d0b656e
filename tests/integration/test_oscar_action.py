"""The action with an OSCAR service: credentials from the job's environment (secrets) are
masked, the summary and the pull request comment show the service, closing the pull request
tears it down."""

from __future__ import annotations

import pytest
import yaml
from test_action import run_action

from scar_testbed.actions_runner import event_copy
from scar_testbed.fake_oscar import PASSWORD, USER, FakeOscar

pytestmark = pytest.mark.integration


def test_pull_request_preview_of_an_oscar_service(fake_oscar: FakeOscar, fake_github,
                                                  tmp_path, unique_name) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "upper.sh").write_text('tr a-z A-Z < "$INPUT_FILE_PATH"\n')
    (workspace / "scar.yaml").write_text(yaml.safe_dump({"functions": {"oscar": [{"lab": {
        "name": "upper", "image": "scar-test/busybox:1", "script": "upper.sh",
        "input": [{"storage_provider": "minio", "path": f"{unique_name}/in"}]}}]}}))
    number = int(unique_name[-7:], 16) % 9_000_000 + 1000
    events, ref = tmp_path / "events", f"refs/pull/{number}/merge"
    opened = event_copy(events / "opened", "pull_request_opened.json", number=number)
    closed = event_copy(events / "closed", "pull_request_closed.json", number=number)
    secrets = {"SCAR_CI_OSCAR_LAB_ENDPOINT": fake_oscar.url,
               "SCAR_CI_OSCAR_LAB_AUTH_USER": USER, "SCAR_CI_OSCAR_LAB_AUTH_PASSWORD": PASSWORD}
    inputs = {"fdl": "scar.yaml", "comment-on-pr": "true"}

    first = run_action(workspace, opened, inputs, fake_github, GITHUB_REF=ref, **secrets)
    assert first.code == 0, first.stderr
    name = f"upper--pr-{number}"
    assert list(fake_oscar.services) == [name]
    url = f"{fake_oscar.url}/run/{name}"
    assert f"| lab/{name} | oscar | scar-test/busybox:1 | 256Mi | {url} | created |" in (
        first.summary)
    assert f"::add-mask::{PASSWORD}\n" in first.stdout
    assert PASSWORD not in first.stdout.replace(f"::add-mask::{PASSWORD}", "") + first.stderr
    [comment] = fake_github.comments[number]
    assert url in comment["body"]

    gone = run_action(workspace, closed, inputs, fake_github, GITHUB_REF=ref, **secrets)
    assert gone.code == 0, gone.stderr
    assert fake_oscar.services == {}
    assert f"lab/{name}" in gone.summary
