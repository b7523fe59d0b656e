"""The supervisor running real udocker containers (busybox test image, Debian's proot, P1)."""

import base64
import json
import shutil

import pytest

from scar_ci.package.image.registry import RegistryClient
from scar_ci.supervisor.config import Settings, load_config
from scar_ci.supervisor.context import LocalContext
from scar_ci.supervisor.errors import ScriptFailed
from scar_ci.supervisor.invocation import Supervisor
from scar_ci.supervisor.runtimes import make_runtime
from scar_ci.supervisor.storage import Storage
from scar_ci.supervisor.udocker import container_name
from scar_testbed.images import read_docker_archive

pytestmark = pytest.mark.integration

INIT_SCRIPT = """#!/bin/sh
echo "init: $(basename "$INPUT_FILE_PATH") for $REQUEST_ID"
tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/result.txt"
cat "$TMP_OUTPUT_DIR/result.txt"
"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def api_post(body: bytes) -> dict:
    return {"httpMethod": "POST", "body": b64(body), "isBase64Encoded": True,
            "headers": {}, "requestContext": {}}


def make_supervisor(folder, container: dict, init_script: str | None = None) -> Supervisor:
    """Build the supervisor the way the handler does, from a package folder."""
    document = {"name": "fn", "container": {"timeout_threshold": 1, **container}}
    if init_script is not None:
        (folder / "init.sh").write_text(init_script)
        document["init_script"] = "init.sh"
    (folder / "scar-function.json").write_text(json.dumps(document))
    config = load_config(folder / "scar-function.json")
    settings = Settings(exec_mode="P1", tmp_dir=folder / "tmp", udocker_dir=folder / "udocker",
                        engine_dir=None)
    storage = Storage(config)
    return Supervisor(config, settings, storage, make_runtime(config, settings, storage))


@pytest.fixture(scope="module")
def package(tmp_path_factory, udocker_env, test_image_archives):
    """A function package with the test image as image_file; udocker's proot from the test bed."""
    folder = tmp_path_factory.mktemp("task")
    shutil.copy(test_image_archives["docker"], folder / "image.tar")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UDOCKER_USE_PROOT_EXECUTABLE", udocker_env["UDOCKER_USE_PROOT_EXECUTABLE"])
        patch.setenv("LAMBDA_TASK_ROOT", str(folder))
        yield folder


@pytest.fixture(scope="module")
def supervisor(package):
    return make_supervisor(package, {"image_file": "image.tar"}, INIT_SCRIPT)


def test_the_init_script_processes_the_posted_file(supervisor):
    context = LocalContext(seconds=60, aws_request_id="req-42")
    response = supervisor.handle(api_post(b"homer\n"), context)
    assert response["statusCode"] == 200
    assert base64.b64decode(response["body"]) == b"init: api_event_file for req-42\nHOMER\n"


def test_the_container_is_created_once_and_reused(supervisor):
    for _ in range(2):
        supervisor.handle(api_post(b"x"), LocalContext(seconds=60))
    containers = supervisor.settings.udocker_dir / "containers"
    assert len([p for p in containers.iterdir() if p.is_symlink()]) == 1
    assert list(supervisor.settings.tmp_dir.iterdir()) == []  # job folders cleaned


def test_a_request_script_overrides_the_init_script(supervisor):
    script = b"echo from-request; env | grep ^X="
    output = supervisor.handle({"script": b64(script), "env": {"X": "1 2"}}, LocalContext(60))
    assert output == "from-request\nX=1 2\n"


def test_command_arguments_replace_the_image_command(supervisor):
    output = supervisor.handle({"cmd_args": ["/bin/echo", "$(id)", "a b"]}, LocalContext(60))
    assert output == "$(id) a b\n"


def test_a_failing_script_is_a_failure_with_its_output(supervisor):
    with pytest.raises(ScriptFailed, match=r"exited with code 5; last output:\nbad input"):
        supervisor.handle({"script": b64(b"echo bad input; exit 5")}, LocalContext(60))


def test_a_script_running_too_long_is_killed(supervisor):
    with pytest.raises(ScriptFailed, match="timed out") as caught:
        supervisor.handle({"script": b64(b"echo started; sleep 60")}, LocalContext(seconds=3))
    assert caught.value.output == b"started\n"  # streamed out of the container before the kill


def test_without_a_script_the_image_command_runs(package, tmp_path):
    shutil.copy(package / "image.tar", tmp_path / "image.tar")
    supervisor = make_supervisor(tmp_path, {"image_file": str(tmp_path / "image.tar")})
    output = supervisor.handle(api_post(b"marge"), LocalContext(seconds=60)).get("body")
    assert base64.b64decode(output) == b"to-upper: api_event_file\n"


def test_an_image_pulled_from_a_registry(package, tmp_path, registry, test_image_archives):
    manifest, media_type, blobs = read_docker_archive(test_image_archives["docker"])
    RegistryClient(registry.url).push_image("scar-test/pulled", "v1", manifest, media_type, blobs)
    supervisor = make_supervisor(
        tmp_path, {"image": "scar-test/pulled:v1", "registry": registry.url})
    output = supervisor.handle({"script": b64(b"cat /usr/local/bin/to-upper.sh | head -n 1")},
                               LocalContext(seconds=60))
    assert output == "#!/bin/sh\n"


def test_a_container_left_half_made_by_a_killed_cold_start_is_made_again(package, tmp_path):
    """Lambda's timeout can kill a cold start in udocker's create or setup: the next
    invocation of that environment must not take the half-made container for a ready one."""
    shutil.copy(package / "image.tar", tmp_path / "image.tar")
    image_file = tmp_path / "image.tar"
    supervisor = make_supervisor(tmp_path, {"image_file": str(image_file)}, INIT_SCRIPT)
    supervisor.handle(api_post(b"x"), LocalContext(seconds=60))
    name = container_name("", image_file, "")
    root = (supervisor.settings.udocker_dir / "containers" / name).resolve() / "ROOT"
    shutil.rmtree(root / "bin")  # what a create killed during the extraction leaves
    (supervisor.settings.udocker_dir / "scar-ready" / name).unlink()

    again = make_supervisor(tmp_path, {"image_file": str(image_file)}, INIT_SCRIPT)
    response = again.handle(api_post(b"homer\n"), LocalContext(seconds=60))
    assert base64.b64decode(response["body"]).endswith(b"HOMER\n")
