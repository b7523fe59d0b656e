"""The `scar-ci` skeleton: every verb exists with help, misuse exits 2 with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scar_ci import __version__
from scar_ci.cli import main

VERBS = ["validate", "plan", "deploy", "teardown", "ls", "run", "invoke", "logs", "put", "get",
         "rm"]
# Commands missing what they act on: refused before any AWS call.
UNTARGETED = [["run"], ["invoke"], ["logs"], ["get"], ["put", "-p", "x"], ["rm"]]


@pytest.fixture(autouse=True)
def _outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    return int(caught.value.code or 0)


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in VERBS:
        assert f"    {verb} " in out, verb


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code([verb, "--help"]) == 0
    assert f"usage: scar-ci {verb}" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"scar-ci {__version__}"


@pytest.mark.parametrize("argv", UNTARGETED)
def test_commands_without_a_target_exit_2_with_one_clear_line(
        argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no AWS call
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("scar-ci: say wh")
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize("verb", ["run", "invoke", "logs", "rm"])
@pytest.mark.parametrize("name", ["a b", "../x", "x" * 65])
def test_a_name_no_function_can_have_is_refused_before_any_aws_call(
        verb: str, name: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no AWS call
    assert main([verb, "-n", name]) == 2
    assert capsys.readouterr().err == (
        f"scar-ci: -n {name!r}: not a function name; use 1 to 64 ASCII letters, digits, '-' "
        "or '_' "
        "(the deployed name 'scar-ci ls' shows, or the FDL's with --scope)\n")


@pytest.mark.parametrize("port", ["99999", "-1", "abc", "²"])
def test_local_up_refuses_a_port_that_cannot_be(port: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["local", "up", "--port", port]) == 2
    assert capsys.readouterr().err.endswith(
        f"scar-ci local up: error: argument --port: {port!r}: expected a port from 0 to 65535 "
        "(0: any free port)\n")


@pytest.mark.parametrize("value", ["0", "11", "²", "x"])
def test_run_refuses_a_concurrency_out_of_range(value: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["run", "-n", "f", "--concurrency", value]) == 2
    assert capsys.readouterr().err.endswith(
        "scar-ci run: error: argument --concurrency: expected a whole number from 1 to 10\n")


@pytest.mark.parametrize(("path", "problem"), [("/nonexistent/x", "no such file or folder"),
                                               ("/dev/null", "not a regular file or a folder")])
def test_put_says_what_is_wrong_with_its_path(path: str, problem: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no AWS call
    assert main(["put", "-b", "bucket", "-p", path]) == 2
    assert capsys.readouterr().err == f"scar-ci: -p {path}: {problem}\n"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("AWS_PROFILE", "nosuch", "scar-ci: AWS profile 'nosuch' not found: check AWS_PROFILE or "
     "the FDL's boto_profile ('aws configure list-profiles' lists them)\n"),
    ("AWS_DEFAULT_REGION", "bad region", "scar-ci: 'bad region' is not an AWS region: check "
     "AWS_REGION / AWS_DEFAULT_REGION or the FDL's region (e.g. us-east-1)\n"),
])
def test_a_wrong_profile_or_region_says_where_it_came_from(
        variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv(variable, value)
    assert main(["ls"]) == 1
    assert capsys.readouterr().err == message


@pytest.mark.parametrize("argv", [["frobnicate"], [], ["plan", "--no-such-flag"]])
def test_misuse_exits_2_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: scar-ci") and "Traceback" not in err


def test_a_user_error_is_annotated_under_github_actions(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["rm"]) == 2
    assert "::error::" in capsys.readouterr().out


def test_the_installed_command_exits_2_without_traceback() -> None:
    done = subprocess.run([sys.executable, "-m", "scar_ci", "rm"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "say what to remove" in done.stderr and "Traceback" not in done.stderr


def test_teardown_never_defaults_to_production(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no AWS call
    assert main(["teardown"]) == 2
    err = capsys.readouterr().err
    assert "--scope production" in err and "Traceback" not in err


@pytest.mark.parametrize("verb", ["plan", "deploy"])
def test_the_image_builder_is_one_of_three(verb: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code([verb, "--image-builder", "podman"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'podman' (choose from 'auto', 'docker', 'daemonless')" in err
    monkeypatch.setenv("SCAR_CI_IMAGE_BUILDER", "kaniko")
    assert main([verb, "-f", "missing.yaml"]) == 2  # refused before the FDL is read
    assert capsys.readouterr().err == ("scar-ci: environment variable SCAR_CI_IMAGE_BUILDER: "
                                       "'kaniko' is not one of auto, docker, daemonless\n")


def test_the_command_line_overrides_the_environment() -> None:
    from scar_ci.package.image.builder_choice import chosen_builder

    env = {"SCAR_CI_IMAGE_BUILDER": "daemonless"}
    assert (chosen_builder("docker", env), chosen_builder(None, env), chosen_builder(None, {})
            ) == ("docker", "daemonless", "auto")
