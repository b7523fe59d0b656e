"""Outputs to Onedata: real HTTP PUTs to a stand-in Oneprovider (scar_testbed.fake_onedata)."""

from __future__ import annotations

import base64

import pytest

from scar_ci.supervisor.config import FunctionConfig, OutputSpec, Settings
from scar_ci.supervisor.context import LocalContext
from scar_ci.supervisor.errors import ConfigError, StorageFailed
from scar_ci.supervisor.invocation import Supervisor
from scar_ci.supervisor.onedata import OnedataClient
from scar_ci.supervisor.runtimes import ImageRuntime
from scar_ci.supervisor.storage import Storage
from scar_testbed.fake_onedata import SPACE, FakeOneprovider


def supervisor(tmp_path, settings: dict[str, str], path: str = "results/run") -> Supervisor:
    config = FunctionConfig(
        name="fn", runtime="image", timeout_threshold=1,
        outputs=(OutputSpec("onedata.od", path, suffix=(".txt",)),),
        storage_providers={"onedata": {"od": settings}})
    return Supervisor(config, Settings("P1", tmp_path / "tmp", tmp_path / "u", None),
                      Storage(config), ImageRuntime())


def run(sup: Supervisor, script: bytes) -> str:
    event = {"script": base64.b64encode(script).decode()}
    return sup.handle(event, LocalContext(aws_request_id="req-1"))


def test_outputs_are_put_into_the_space_under_the_output_path(tmp_path, fake_onedata):
    sup = supervisor(tmp_path, fake_onedata.settings())
    script = (b'mkdir -p "$TMP_OUTPUT_DIR/sub"; echo one > "$TMP_OUTPUT_DIR/a b.txt"; '
              b'echo two > "$TMP_OUTPUT_DIR/sub/c.txt"; echo no > "$TMP_OUTPUT_DIR/skip.log"')
    run(sup, script)
    assert fake_onedata.files == {"results/run/a b.txt": b"one\n",
                                  "results/run/sub/c.txt": b"two\n"}
    assert ("PUT", f"/cdmi/{SPACE}/results/run/a%20b.txt") in fake_onedata.calls


def test_a_bare_output_path_gets_scars_function_and_request_folders(tmp_path, fake_onedata):
    run(supervisor(tmp_path, fake_onedata.settings(), path="results"),
        b'echo x > "$TMP_OUTPUT_DIR/o.txt"')
    assert list(fake_onedata.files) == ["results/fn/output/req-1/o.txt"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"token": "wrong"}, "HTTP 401"),
    ({"space": "other-space"}, "HTTP 404"),
])
def test_a_refused_upload_fails_the_invocation_naming_the_file(
    tmp_path, fake_onedata: FakeOneprovider, change: dict[str, str], expected: str
) -> None:
    sup = supervisor(tmp_path, {**fake_onedata.settings(), **change})
    with pytest.raises(StorageFailed, match=rf"refused .*results/run/o\.txt .*{expected}"):
        run(sup, b'echo x > "$TMP_OUTPUT_DIR/o.txt"')
    assert fake_onedata.files == {}


def test_an_unreachable_oneprovider_is_named(tmp_path, fake_onedata):
    url = fake_onedata.url
    sup = supervisor(tmp_path, {**fake_onedata.settings(),
                                "oneprovider_host": url.rsplit(":", 1)[0] + ":9"})
    with pytest.raises(StorageFailed, match=r"cannot reach the Oneprovider 127\.0\.0\.1:9"):
        run(sup, b'echo x > "$TMP_OUTPUT_DIR/o.txt"')


@pytest.mark.parametrize(("settings", "message"), [
    ({"oneprovider_host": "op.example.org", "space": "s"}, "needs oneprovider_host, token"),
    ({"oneprovider_host": "http://op.example.org", "token": "t", "space": "s"},
     "token in clear"),
    ({"oneprovider_host": "op.example.org/x", "token": "t", "space": "s"}, "not a host name"),
])
def test_incomplete_or_unsafe_settings_are_configuration_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        OnedataClient("onedata.od", settings)


def test_onedata_is_https_by_default_and_never_an_input():
    client = OnedataClient("onedata.od", {"oneprovider_host": "op.example.org:8443",
                                          "token": "t", "space": "s"})
    assert (client.scheme, client.netloc) == ("https", "op.example.org:8443")
    with pytest.raises(ConfigError, match="cannot be an input"):
        client.download_file("b", "k", "/dev/null")
