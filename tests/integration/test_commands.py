"""run, put, get, ls -b, logs and invoke against one function deployed in LocalStack, whose
container runs for real (udocker under the scar-local executor)."""

from __future__ import annotations

import json
import os
import secrets
import time

import boto3
import pytest
import yaml
from command_helpers import Deployed, scar, worker_fdl

from scar_ci.aws.session import Aws
from scar_ci.deploy import engine
from scar_ci.fdl import load_fdl
from scar_ci.scopes.scope import Scope
from scar_testbed.actions_runner import workflow_commands
from scar_testbed.lambda_functions import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployed(localstack, tmp_path_factory, test_image_archives):
    folder = tmp_path_factory.mktemp("commands")
    base = f"scar-t-{secrets.token_hex(5)}"
    fdl = worker_fdl(folder, base, test_image_archives["docker"])
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


def test_run_by_deployed_name_runs_the_init_script_and_by_fdl_the_run_script(deployed, capsys):
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-e", "MODE=plain")
    assert (code, out) == (0, "hello from init, MODE=plain\n"), err
    code, out, err = scar(capsys, "run", "-f", str(deployed.fdl), "--scope",
                          deployed.scope.stage, "-e", "MODE=fdl")
    assert (code, out) == (0, "run_script says MODE=fdl\n"), err


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
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-e", "MODE=oj", "-j", "-o",
                          str(tmp_path / "out.txt"))
    assert code == 0 and json.loads(out)["LambdaOutput"]["Payload"] == "hello from init, MODE=oj\n"
    assert (tmp_path / "out.txt").read_text() == "hello from init, MODE=oj\n"


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


def test_the_fdl_s_log_type_and_invocation_type_are_run_s_defaults(deployed, capsys):
    """SCAR reads them when it runs a function: `log_type: None` leaves the log tail out,
    `invocation_type: DryRun` sends nothing, `Event` queues the invocation (Lambda's 202)."""
    document = yaml.safe_load(deployed.fdl.read_text())
    settings = document["functions"]["aws"][0]["lambda"]
    changed = deployed.fdl.with_name("run-defaults.yaml")
    worker = ["-f", str(changed), "--scope", deployed.scope.stage, "-e", "MODE=defaults"]

    def run(*flags: str, **fdl: str) -> tuple[int, str, str]:
        changed.write_text(yaml.safe_dump(document | {"functions": {"aws": [
            document["functions"]["aws"][0] | {"lambda": settings | fdl}]}}))
        return scar(capsys, "run", *worker, *flags)

    code, out, err = run("-v")
    assert code == 0 and "START RequestId" in json.loads(out)["LambdaOutput"]["LogTail"], err
    code, out, err = run("-v", log_type="None")
    assert code == 0 and json.loads(out)["LambdaOutput"]["LogTail"] == "", err
    code, out, err = run(invocation_type="DryRun")
    assert (code, out.split(" with ")[0]) == (0, f"would invoke {deployed.name} synchronously")
    code, out, err = run("-j", "-v", invocation_type="Event")  # both, as SCAR: -v wins
    assert code == 0 and json.loads(out)["LambdaOutput"]["StatusCode"] == 202, err


def test_run_by_name_alone_takes_the_configuration_file_s_asynchronous(
        deployed, tmp_path, capsys):
    """SCAR's `run -n NAME` reads scar.cfg: its `lambda.asynchronous` queues the run."""
    config = tmp_path / "scar.cfg"
    config.write_text(json.dumps({"aws": {"lambda": {"asynchronous": True}}}))
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-c", str(config), "-j")
    assert code == 0 and json.loads(out)["LambdaOutput"]["StatusCode"] == 202, err
    config.write_text(json.dumps({"aws": {"lambda": {"asynchronous": "yes"}}}))
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-c", str(config))
    assert code == 2 and f"{config}:1:" in err and "Traceback" not in err, err


def test_bad_variables_and_unknown_functions_are_clear_errors(deployed, capsys):
    code, _, err = scar(capsys, "run", "-n", deployed.name, "-e", "NOEQUALS")
    assert code == 2 and "-e 'NOEQUALS': expected NAME=VALUE" in err
    code, _, err = scar(capsys, "run", "-f", str(deployed.fdl), "-n", "nope")
    assert code == 2 and "no function named 'nope' (it defines: worker)" in err
    code, _, err = scar(capsys, "run", "-n", f"{deployed.name}-missing")
    assert code == 1 and "ResourceNotFoundException" in err and "Traceback" not in err


FILES = 50


def wait_for_keys(bucket: str, prefix: str, count: int, timeout: float = 120) -> list[str]:
    s3 = boto3.client("s3")
    deadline = time.monotonic() + timeout
    while True:
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix) for item in page.get("Contents", ())
            if not item["Key"].endswith("/")]
        if len(keys) >= count or time.monotonic() > deadline:
            return sorted(keys)
        time.sleep(0.5)


def test_put_then_run_fans_out_one_event_per_input_file_then_get(deployed, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    (inputs / "sub").mkdir(parents=True)
    names = [f"f{i:02d}.txt" for i in range(FILES - 1)]
    for name in names:
        (inputs / name).write_text(f"text of {name}\n")
    (inputs / "sub" / "deep name+1.txt").write_text("nested\n")
    fdl = ["-f", str(deployed.fdl), "--scope", deployed.scope.stage]

    code, out, err = scar(capsys, "put", *fdl, "-p", str(inputs))
    assert code == 0, err
    assert f"put: {FILES} file(s) uploaded to s3://{deployed.bucket}/input" in out
    code, out, _ = scar(capsys, "ls", "-b", f"{deployed.bucket}/input")
    assert code == 0 and len(out.splitlines()) == FILES and "input/sub/deep name+1.txt" in out

    code, out, _ = scar(capsys, "run", *fdl, "--dry-run")
    assert code == 0 and out.count("would send s3://") == FILES
    assert f"{FILES} event(s) would be sent" in out
    # SCAR's `run -ib`: the folder given, even for a function named without its FDL
    code, out, _ = scar(capsys, "run", "-n", deployed.name, "-ib",
                        f"{deployed.bucket}/input/sub", "--dry-run")
    assert (code, out.splitlines()[0]) == (
        0, f"would send s3://{deployed.bucket}/input/sub/deep name+1.txt"), out
    assert "1 event(s) would be sent" in out
    assert wait_for_keys(deployed.bucket, "output/", 0, timeout=0) == []

    code, out, err = scar(capsys, "run", *fdl, "--concurrency", "4", "-j")
    assert code == 0, err
    assert "(synchronously, warms the cache)" in err
    assert f"dispatched asynchronously {FILES - 1}/{FILES - 1}, 0 failed so far" in err
    assert f"fan-out: {FILES} file(s), {FILES} sent, 0 failed" in err
    assert json.loads(out) | {"seconds": 0} == {"total": FILES, "sent": FILES, "failed": [],
                                                "seconds": 0}
    outputs = wait_for_keys(deployed.bucket, "output/", FILES)
    assert outputs == sorted([f"output/{n}" for n in names] + ["output/deep name+1.txt"])

    code, out, err = scar(capsys, "get", *fdl, "-p", str(tmp_path / "results"))
    assert code == 0, err
    assert (tmp_path / "results" / "f07.txt").read_text() == "TEXT OF F07.TXT\n"
    assert (tmp_path / "results" / "deep name+1.txt").read_text() == "NESTED\n"
    assert len(list((tmp_path / "results").iterdir())) == FILES


def test_big_files_go_in_parts_with_progress_and_come_back_identical(deployed, tmp_path,
                                                                     capsys):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 2**20) * 4)  # 12 MiB: over the multipart threshold
    code, out, err = scar(capsys, "put", "-b", f"{deployed.bucket}/blobs", "-p", str(big))
    assert code == 0, err
    assert out.count(" MiB") >= 3 and "of 12.0 MiB" in out
    head = boto3.client("s3").head_object(Bucket=deployed.bucket, Key="blobs/big.bin")
    assert "-" in head["ETag"]  # a multipart upload's ETag is `<md5 of md5s>-<parts>`

    code, _, err = scar(capsys, "get", "-b", f"{deployed.bucket}/blobs/big.bin", "-p",
                        str(tmp_path / "copy.bin"))
    assert code == 0, err
    assert (tmp_path / "copy.bin").read_bytes() == big.read_bytes()


def test_get_refuses_keys_that_would_escape_the_destination(deployed, tmp_path, capsys):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=deployed.bucket, Key="hostile/ok.txt", Body=b"ok")
    s3.put_object(Bucket=deployed.bucket, Key="hostile/a/../../../escaped.txt", Body=b"x")
    dest = tmp_path / "dest"
    code, _, err = scar(capsys, "get", "-b", f"{deployed.bucket}/hostile", "-p", str(dest))
    assert code == 1 and "would be written outside" in err
    assert (dest / "ok.txt").read_bytes() == b"ok"
    assert not any(tmp_path.rglob("escaped.txt"))


def test_logs_of_one_request_and_of_a_stream(deployed, capsys):
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-e", "MODE=logged", "-j")
    assert code == 0, err
    request_id = json.loads(out)["LambdaOutput"]["RequestId"]
    logs = boto3.client("logs")
    group = f"/aws/lambda/{deployed.name}"
    eventually(lambda: any(e["message"].startswith(f"REPORT RequestId: {request_id}") for e in
                           logs.filter_log_events(logGroupName=group)["events"]),
               f"request {request_id}'s logs in CloudWatch Logs (they arrive after the answer)")

    code, out, err = scar(capsys, "logs", "-n", deployed.name, "--request-id", request_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"START RequestId: {request_id}")
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}")
    assert "hello from init, MODE=logged" in lines and "MODE=j" not in out

    code, out, _ = scar(capsys, "logs", "-f", str(deployed.fdl), "--scope",
                        deployed.scope.stage, "--since", "10m")
    assert code == 0 and "hello from init, MODE=logged" in out
    code, out, _ = scar(capsys, "logs", "-n", deployed.name, "--since", "2999-01-01T00:00:00")
    assert (code, out) == (0, "")

    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    expected = [e["message"].rstrip("\n") for e in logs.filter_log_events(
        logGroupName=group, logStreamNames=[stream])["events"]]
    code, out, _ = scar(capsys, "logs", "-n", deployed.name, "-ls", stream)
    assert code == 0 and out.splitlines() == expected


def test_logs_follow_an_asynchronous_run_until_its_request_ends(deployed, capsys):
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-a", "-e", "MODE=followed")
    assert code == 0, err
    request_id = out.rstrip().rpartition("(request ")[2].rstrip(")")
    code, out, err = scar(capsys, "logs", "-n", deployed.name, "--request-id", request_id,
                          "--follow")
    assert code == 0, err
    assert "hello from init, MODE=followed" in out
    assert out.splitlines()[-1].startswith(f"REPORT RequestId: {request_id}")


def test_logs_of_a_function_that_does_not_exist_is_a_clear_error(deployed, capsys):
    code, _, err = scar(capsys, "logs", "-n", f"{deployed.name}-none")
    assert code == 1 and "no logs at /aws/lambda/" in err and "Traceback" not in err
    code, _, err = scar(capsys, "logs", "-n", deployed.name, "--since", "yesterday")
    assert code == 2 and "--since 'yesterday': expected an age" in err


def test_invoke_get_with_parameters_through_the_api(deployed, capsys):
    code, out, err = scar(capsys, "invoke", "-f", str(deployed.fdl), "--scope",
                          deployed.scope.stage, "-p", "who=a b&c=d")
    assert code == 0, err
    assert out == "who=a b&c=d\nhello from init, MODE=\n"
    assert "Request Id: " in err and "Log Group Name: /aws/lambda/" in err


def test_invoke_posts_a_binary_file_and_writes_the_decoded_output(deployed, tmp_path, capsys):
    sent = tmp_path / "bytes.bin"
    sent.write_bytes(bytes(range(256)) * 64)
    received = tmp_path / "received.bin"
    code, out, err = scar(capsys, "invoke", "-n", deployed.name, "-p", "action=echo",
                          "-db", str(sent), "-o", str(received))
    assert (code, out) == (0, ""), err
    assert received.read_bytes() == sent.read_bytes()


def test_invoke_posts_json_and_asynchronous_requests(deployed, capsys):
    # JSON from an HTTP caller is the input file, even made of cmd_args (issue 13, hole 1)
    code, out, err = scar(capsys, "invoke", "-n", deployed.name, "-p", "action=echo", "-jd",
                          '{"cmd_args": ["echo", "from", "json"]}')
    assert (code, out) == (0, '{"cmd_args": ["echo", "from", "json"]}'), err
    code, out, err = scar(capsys, "invoke", "-n", deployed.name, "-a")
    assert (code, out) == (0, f"Function '{deployed.name}' launched successfully.\n"), err


def test_invoke_limits_and_failures_are_clear_errors(deployed, tmp_path, capsys):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (10 * 2**20 + 1))
    code, _, err = scar(capsys, "invoke", "-n", deployed.name, "-db", str(big))
    assert code == 2 and "API Gateway accepts at most 10.0 MiB" in err
    code, _, err = scar(capsys, "invoke", "-n", deployed.name, "-jd", "{not json")
    assert code == 2 and "-jd: not JSON" in err
    code, _, err = scar(capsys, "invoke", "-n", deployed.name, "-p", "who=two\nlines")
    assert code == 1 and "answered HTTP 400" in err and "line breaks" in err
    assert "Traceback" not in err


def test_under_actions_a_function_cannot_issue_workflow_commands(deployed, tmp_path,
                                                                 monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    script = tmp_path / "inject.sh"
    script.write_text('echo "::add-mask::hidden"\necho "::error::injected"\n')
    code, out, err = scar(capsys, "run", "-n", deployed.name, "-s", str(script))
    assert code == 0, err
    assert workflow_commands(out) == []  # each line between stop-commands, fresh tokens
    assert [line for line in out.splitlines() if line.startswith("::") and "scar-ci-" not in line
            ] == ["::add-mask::hidden", "::error::injected"]

    script.write_text('echo "::error::injected"\nexit 1\n')
    code, _, err = scar(capsys, "run", "-n", deployed.name, "-s", str(script))
    assert code == 1
    assert "  | ::error::injected" in err
    assert not any(line.startswith("::error::injected") for line in err.splitlines())


def test_ls_shows_memory_timeout_image_api_and_supervisor(deployed, capsys):
    code, out, err = scar(capsys, "ls", "--scope", deployed.scope.stage, "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["function"], row["memory"], row["timeout"], row["url"]) == (
        deployed.name, 256, 60, deployed.url)
    assert row["supervisor"].startswith("sha256:")
    code, out, _ = scar(capsys, "ls", "--scope", deployed.scope.stage)
    assert f"{deployed.name}    256 MB    60 s" in out and row["supervisor"] in out
