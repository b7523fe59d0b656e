"""run, put, get, ls -b, logs and invoke against one function deployed in LocalStack, whose
container runs for real (udocker under the scar-local executor)."""

from __future__ import annotations

import json
import secrets

import boto3
import pytest
from command_helpers import Deployed, scar, worker_fdl

from scar_ci import engine
from scar_ci.aws.session import Aws
from scar_ci.fdl import load_fdl
from scar_ci.scope import Scope

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployed(localstack, tmp_path_factory, test_image_archives, udocker_env):
    folder = tmp_path_factory.mktemp("commands")
    base = f"scar-t-{secrets.token_hex(5)}"
    fdl = worker_fdl(folder, base, test_image_archives["docker"], udocker_env)
    scope = Scope.parse(f"manual:{base}")
    name = scope.function_name("worker")
    _, urls = engine.deploy(load_fdl(fdl), scope, Aws(), say=lambda _: None)
    bucket = scope.bucket(base)
    # Files put into the input folder must reach the function only through `run`'s fan-out.
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={})
    yield Deployed(fdl, scope, name, bucket, urls[name])
    engine.teardown(scope, Aws(), delete_data=True, say=lambda _: None)


def test_run_with_a_script_and_variables_whose_values_hold_equals_signs(
        deployed, tmp_path, capsys):
    script = tmp_path / "greet.sh"
    script.write_text('echo "greeting=$GREETING"\necho "mode=$MODE"\n')
    code, out, err = scar(capsys, "run", "-f", str(deployed.fdl), "--scope",
                          deployed.scope.stage, "-s", str(script), "-e", "GREETING=a=b=c",
                          "-e", "MODE=")
    assert code == 0, err
    assert out == "greeting=a=b=c\nmode=\n"
    assert "Request Id: " in err and f"/aws/lambda/{deployed.name}" in err


def test_run_by_deployed_name_runs_the_init_script(deployed, capsys):
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-e", "MODE=plain")
    assert (code, out) == (0, "hello from init, MODE=plain\n"), err


def test_run_passes_command_arguments_to_the_image(deployed, capsys):
    code, out, err = scar(capsys, "run", "-n", "worker", "--scope", deployed.scope.stage,
                          "--", "echo", "one", "two words", "--three")
    assert (code, out) == (0, "one two words --three\n"), err


def test_run_json_and_output_file(deployed, tmp_path, capsys):
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-e", "MODE=j", "-j")
    assert code == 0, err
    answer = json.loads(out)["LambdaOutput"]
    assert answer["Payload"] == "hello from init, MODE=j\n"
    assert answer["StatusCode"] == 200 and answer["RequestId"]
    assert answer["LogGroupName"] == f"/aws/lambda/{deployed.name}"

    code, out, err = scar(capsys, "run", "-n", deployed.name, "-e", "MODE=o", "-o",
                          str(tmp_path / "out.txt"))
    assert (code, out) == (0, ""), err
    assert (tmp_path / "out.txt").read_text() == "hello from init, MODE=o\n"


def test_a_failing_function_exits_non_zero_with_its_message(deployed, tmp_path, capsys):
    script = tmp_path / "fail.sh"
    script.write_text("echo about to fail\nexit 3\n")
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-s", str(script), "-v")
    assert code == 1
    assert json.loads(out)["LambdaOutput"]["FunctionError"] == "Unhandled"
    assert f"scar-ci: function {deployed.name} failed" in err
    assert "about to fail" in err and "Traceback" not in err


def test_run_asynchronously_returns_at_once(deployed, capsys):
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-a", "-e", "MODE=async")
    assert code == 0, err
    assert out.startswith(f"Function '{deployed.name}' launched successfully")


def test_bad_variables_and_unknown_functions_are_clear_errors(deployed, capsys):
    code, _, err = scar(capsys, "run", "-n", deployed.name, "-e", "NOEQUALS")
    assert code == 2 and "-e 'NOEQUALS': expected NAME=VALUE" in err
    code, _, err = scar(capsys, "run", "-f", str(deployed.fdl), "-n", "nope")
    assert code == 2 and "no function named 'nope' (it defines: worker)" in err
    code, _, err = scar(capsys, "run", "-n", f"{deployed.name}-missing")
    assert code == 1 and "ResourceNotFoundException" in err and "Traceback" not in err
