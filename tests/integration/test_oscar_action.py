"""The action with an OSCAR service: credentials from the job's environment (secrets) are
masked, the summary and the pull request comment show the service, closing the pull request
tears it down."""

from __future__ import annotations

import pytest
import yaml
from test_action import run_action

from scar_testbed.actions_runner import event_copy
from scar_testbed.fake_oscar import PASSWORD, USER, FakeOscar
from scar_testbed.oidc_issuer import OidcIssuer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("login", ["basic", "refresh token"])
def test_pull_request_preview_of_an_oscar_service(fake_oscar: FakeOscar, fake_github,
                                                  oidc_issuer: OidcIssuer, tmp_path,
                                                  unique_name, login: str) -> None:
    """With a user and password, or with an OIDC refresh token that oscar-python exchanges at
    the (stand-in) token endpoint, as a job holding EGI Check-in's refresh token does."""
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
    secret = PASSWORD if login == "basic" else oidc_issuer.grant("scar-ci")
    secrets = {"SCAR_CI_OSCAR_LAB_ENDPOINT": fake_oscar.url, **(
        {"SCAR_CI_OSCAR_LAB_AUTH_USER": USER, "SCAR_CI_OSCAR_LAB_AUTH_PASSWORD": secret}
        if login == "basic" else
        {"SCAR_CI_OSCAR_LAB_REFRESH_TOKEN": secret, "SCAR_CI_OSCAR_LAB_CLIENT_ID": "scar-ci",
         "SCAR_CI_OSCAR_LAB_TOKEN_ENDPOINT": oidc_issuer.url})}
    inputs = {"fdl": "scar.yaml", "comment-on-pr": "true"}

    first = run_action(workspace, opened, inputs, fake_github, GITHUB_REF=ref, **secrets)
    assert first.code == 0, first.stderr
    name = f"upper--pr-{number}"
    assert list(fake_oscar.services) == [name]
    url = f"{fake_oscar.url}/run/{name}"
    assert f"| lab/{name} | oscar | scar-test/busybox:1 | 256Mi | {url} | created |" in (
        first.summary)
    assert f"::add-mask::{secret}\n" in first.stdout
    assert secret not in first.stdout.replace(f"::add-mask::{secret}", "") + first.stderr
    assert (login == "basic") == (not oidc_issuer.asked)  # the token endpoint was asked
    [comment] = fake_github.comments[number]
    assert url in comment["body"]

    gone = run_action(workspace, closed, inputs, fake_github, GITHUB_REF=ref, **secrets)
    assert gone.code == 0, gone.stderr
    assert fake_oscar.services == {}
    assert f"lab/{name}" in gone.summary
