"""Script precedence: request script > command arguments > init_script > image entrypoint."""

import pytest

from scar_ci.supervisor.command import choose_command, direct_invocation, udocker_invocation
from scar_ci.supervisor.config import FunctionConfig
from scar_ci.supervisor.errors import ConfigError
from scar_ci.supervisor.events import Job


@pytest.fixture
def init_config(tmp_path):
    init = tmp_path / "init.sh"
    init.write_text("echo init")
    return FunctionConfig(name="fn", image="busybox", init_script=init)


def job(script=None, cmd_args=None):
    return Job("direct", "{}", "t", script=script, cmd_args=cmd_args)


def test_the_request_script_wins(tmp_path, init_config):
    command = choose_command(job(b"echo req", ["df"]), init_config, tmp_path)
    assert command.origin == "request script"
    assert command.script.read_bytes() == b"echo req"
    assert udocker_invocation(command) == ("/bin/sh", [str(command.script)])
    assert direct_invocation(command) == ["/bin/sh", str(command.script)]


def test_command_arguments_beat_the_init_script(tmp_path, init_config):
    command = choose_command(job(cmd_args=["df", "-h"]), init_config, tmp_path)
    assert command.origin == "command arguments"
    assert udocker_invocation(command) == (None, ["df", "-h"])
    assert direct_invocation(command) == ["df", "-h"]


def test_the_init_script_is_copied_next_to_the_job(tmp_path, init_config):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    command = choose_command(job(), init_config, run_dir)
    assert command.origin == "init_script"
    assert command.script.parent == run_dir
    assert command.script.read_text() == "echo init"


def test_otherwise_the_image_entrypoint(tmp_path):
    command = choose_command(job(), FunctionConfig(name="fn", image="busybox"), tmp_path)
    assert command.origin == "entrypoint"
    assert udocker_invocation(command) == (None, [])
    with pytest.raises(ConfigError, match="runtime 'image'"):
        direct_invocation(command)


def test_a_missing_init_script_is_a_configuration_error(tmp_path):
    config = FunctionConfig(name="fn", image="b", init_script=tmp_path / "gone.sh")
    with pytest.raises(ConfigError, match="missing from the package"):
        choose_command(job(), config, tmp_path)
