"""A SCAR user's files and command lines: SCAR's configuration as SCAR writes it, values taken
as SCAR meant them (with a notice), values scar-ci would ignore (refused at their line), and
SCAR's init flags."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from scar_ci.cli import build_parser, main
from scar_ci.commands.definition import definition_overrides, load_definition
from scar_ci.commands.http import parameters
from scar_ci.errors import UsageError
from scar_ci.fdl import FDLError, load_fdl
from scar_ci.fdl.config import scar_config

ROOT = Path(__file__).resolve().parents[2]
SCAR_431 = ROOT / "tests" / "data" / "scar-config" / "scar-4.3.1.cfg"
MPI = ROOT / "tests" / "data" / "scar-examples" / "mpi"
COW = """\
functions:
  aws:
  - lambda:
      name: cow
      container:
        image: grycap/cowsay
{extra}"""


@pytest.fixture(autouse=True)
def _user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A user's folder and home, outside GitHub Actions, without AWS settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("GITHUB_ACTIONS", "SCAR_CONFIG_FOLDER", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def cow(extra: str = "") -> Path:
    path = Path("scar.yaml")
    path.write_text(COW.format(extra=extra), encoding="utf-8")
    return path


def problems(path: Path = Path("scar.yaml"), **kwargs: object) -> list[str]:
    with pytest.raises(FDLError) as caught:
        load_fdl(path, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


# --- SCAR's configuration file -------------------------------------------------------------

def test_scar_4_3_1_default_config_in_scar_config_folder_works_unchanged(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copy(SCAR_431, folder / "scar.cfg")
    monkeypatch.setenv("SCAR_CONFIG_FOLDER", str(folder))
    cow()
    assert main(["validate", "-f", "scar.yaml"]) == 0
    err = capsys.readouterr().err
    # one notice each, at the configuration file's line, under its own key
    assert err.count("scar-ci: notice:") == 2
    assert (f"scar-ci: notice: {folder / 'scar.cfg'}:28:18: aws.lambda.runtime: AWS Lambda no "
            "longer creates python3.7 functions: deploying python3.12") in err
    assert "UDOCKER_BIN, UDOCKER_LIB, UDOCKER_DIR, UDOCKER_EXEC" in err
    (function,) = load_fdl("scar.yaml").functions
    assert function.runtime == "python3.12"
    assert function.boto_profile is None  # SCAR's "default": the default credential chain
    assert "UDOCKER_DIR" not in function.environment
    assert function.api_gateway is None


def test_the_config_is_read_by_one_function_with_its_oscar_clusters(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = json.loads(SCAR_431.read_text())
    config["oscar"]["my_oscar"].update(endpoint="https://oscar.example", log_level="debug")
    path = tmp_path / "scar.cfg"
    path.write_text(json.dumps(config, indent=2))
    monkeypatch.setenv("SCAR_CONFIG_FOLDER", str(tmp_path))
    read = scar_config()
    assert read is not None and read.problems == ()
    cluster = read.oscar_clusters["my_oscar"]
    assert cluster["endpoint"] == "https://oscar.example"
    assert cluster["log_level"] == "DEBUG"
    assert "auth_user" not in cluster  # SCAR's empty placeholder: not configured
    assert read.position_of(("oscar", "my_oscar", "endpoint")).line == 7


def test_without_scar_config_folder_home_is_used(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".scar"
    home.mkdir(parents=True)
    shutil.copy(SCAR_431, home / "scar.cfg")
    assert scar_config().name == str(home / "scar.cfg")


def test_lowercase_log_levels_are_upper_cased() -> None:
    cow("      log_level: debug\n")
    assert load_fdl("scar.yaml").functions[0].log_level == "DEBUG"


def test_a_supervisor_version_or_license_is_a_notice(capsys: pytest.CaptureFixture) -> None:
    cow("      supervisor: {version: 1.5.0, license_info: MIT}\n")
    load_fdl("scar.yaml")
    err = capsys.readouterr().err
    assert ("scar.yaml:7:29: functions.aws[0].lambda.supervisor.version: '1.5.0' is not used: "
            "scar-ci deploys its own supervisor") in err
    assert ("scar.yaml:7:50: functions.aws[0].lambda.supervisor.license_info: 'MIT' is not "
            "used: scar-ci deploys its own supervisor") in err
    cow("      supervisor: {version: latest, license_info: Apache 2.0}\n")  # SCAR's defaults
    load_fdl("scar.yaml")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("max_v_cpus", "told"), [(5, True), (6, False)])
def test_a_multi_node_job_its_compute_environment_cannot_hold_is_a_notice(
        max_v_cpus: int, told: bool, capsys: pytest.CaptureFixture) -> None:
    cow("      execution_mode: batch\n    batch:\n      vcpus: 2\n"
        "      multi_node_parallel: {enabled: true, number_nodes: 3}\n"
        f"      compute_resources: {{max_v_cpus: {max_v_cpus}, subnets: [s], "
        "security_group_ids: [g]}\n")
    load_fdl("scar.yaml")
    notice = ("scar-ci: notice: scar.yaml:11:39: functions.aws[0].batch.compute_resources."
              "max_v_cpus: 5 vCPUs cannot hold the multi-node job's 3 nodes of 2 vCPUs: AWS "
              "Batch would keep it RUNNABLE; set max_v_cpus to 6 or more (or fewer nodes or "
              "vcpus)")
    err = capsys.readouterr().err
    assert (notice in err) is told
    assert ("cannot hold" in err) is told


# --- values scar-ci would ignore: refused at their line -------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    ("    api_gateway: {name: a, path_part: con/vert}\n",
     "scar.yaml:7:28: functions.aws[0].api_gateway.path_part: API Gateway's path part: one "
     "path segment"),
    ("    api_gateway: {name: a, integration: {type: AWS}}\n",
     "functions.aws[0].api_gateway.integration.type: 'AWS' cannot take effect: the supervisor "
     "answers API Gateway's proxy event"),
    ("    api_gateway: {name: a, path_part: run, endpoint: 'https://x.example/{stage_name}/run'}\n",
     "api_gateway.endpoint: 'https://x.example/{stage_name}/run' cannot take effect: scar-ci "
     "prints and calls the URL API Gateway serves"),
    ("    cloudwatch: {region: eu-west-1}\n",
     "functions.aws[0].cloudwatch.region: 'eu-west-1': scar-ci deploys a function's cloudwatch "
     "resources with the function's own region (us-east-1, lambda.region)"),
    ("    iam: {boto_profile: other}\n",
     "functions.aws[0].iam.boto_profile: 'other': scar-ci deploys"),
    ("    api_gateway: {name: a, region: eu-west-1}\n",
     "functions.aws[0].api_gateway.region: 'eu-west-1': scar-ci deploys a function's "
     "api_gateway resources with the function's own region"),
    ("    batch: {boto_profile: other}\n",
     "functions.aws[0].batch.boto_profile: 'other': scar-ci deploys a function's batch"),
    ("    cloudwatch: {boto_profile: other}\n",
     "functions.aws[0].cloudwatch.boto_profile: 'other'"),
    ("    batch: {multi_node_parallel: {number_nodes: 3}}\n",
     "functions.aws[0].batch.multi_node_parallel.number_nodes: has no effect unless"),
    ("    batch: {compute_resources: {type: FARGATE, launch_template_name: lt}}\n",
     "Fargate compute environments take no launch template"),
])
def test_values_that_would_not_take_effect_are_refused(extra: str, message: str) -> None:
    cow(extra)
    assert any(message in p for p in problems()), problems()


def test_a_path_part_and_the_endpoint_that_names_it_are_taken() -> None:
    cow("    api_gateway: {name: a, path_part: run, endpoint: 'https://{api_id}.execute-api."
        "{api_region}.amazonaws.com/{stage_name}/run'}\n")
    (function,) = load_fdl(Path("scar.yaml")).functions
    assert function.api_gateway is not None and function.api_gateway.path_part == "run"


def test_lambda_keys_lambda_would_refuse_are_refused() -> None:
    cow("      preheat: true\n      execution_mode: batch\n"
        "      deployment: {max_payload_size: 60000000, max_s3_payload_size: 1000}\n")
    found = problems()
    assert any("lambda.preheat: a batch function's invocation submits a Batch job" in p
               for p in found)
    assert any("lambda.deployment.max_payload_size: 60000000 is over Lambda's own limit"
               in p for p in found)
    assert not any("max_s3_payload_size" in p for p in found)  # a lower limit is honoured


def test_scar_boilerplate_from_the_config_follows_the_function(tmp_path: Path) -> None:
    """SCAR's file says us-east-1 for every service: a function elsewhere is not refused."""
    cow("      region: eu-west-1\n")
    (function,) = load_fdl("scar.yaml", config_path=SCAR_431).functions
    assert function.region == "eu-west-1"
    edited = json.loads(SCAR_431.read_text())
    edited["aws"]["s3"]["event"] = {"Records": []}
    (tmp_path / "edited.cfg").write_text(json.dumps(edited, indent=2))
    assert any("aws.s3.event: scar-ci sends the event S3 sends" in p
               for p in problems(config_path=tmp_path / "edited.cfg"))


# --- FDL files outside the repository ------------------------------------------------------

def test_scar_mpi_examples_with_tmp_paths_validate_outside_actions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("run_helper.sh", "scar-mpi.img", "run_batch.sh"):
        Path("/tmp", name).touch()  # where SCAR's MPI README puts them
    assert load_fdl(MPI / "lambda.yaml").functions[0].run_script == Path("/tmp/run_helper.sh")
    batch = tmp_path / "batch.yaml"  # its image is a placeholder to fill in
    batch.write_text((MPI / "batch.yaml").read_text().replace("<DockerHub repo/image>",
                                                              "grycap/mpi"))
    assert load_fdl(batch).functions[0].batch.multi_node_parallel["number_nodes"] == 3
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert any("leaves the repository" in p for p in problems(MPI / "lambda.yaml"))


# --- SCAR's init flags ---------------------------------------------------------------------

def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_init_flags_describe_a_function_without_an_fdl() -> None:
    Path("cow.sh").write_text("echo\n")
    args = parse("init", "-n", "scar-cowsay", "-i", "grycap/cowsay", "-m", "128", "-t", "300",
                 "-e", "TEST1=45", "-le", "L=1", "-s", "cow.sh", "-ll", "debug", "-api", "cow",
                 "-ib", "in-bucket/input", "-ob", "out-bucket", "-db", "deploy-bucket",
                 "-em", "lambda", "-r", "arn:aws:iam::1:role/r", "-tt", "20", "-ph")
    assert args.verb == "init"
    overrides = definition_overrides(args)
    assert overrides["lambda"]["container"] == {"image": "grycap/cowsay", "timeout_threshold": 20,
                                                "environment": {"Variables": {"TEST1": "45"}}}
    assert overrides["lambda"]["init_script"] == str(Path("cow.sh").resolve())
    assert overrides["iam"] == {"role": "arn:aws:iam::1:role/r"}
    assert overrides["api_gateway"] == {"name": "cow"}
    (function,) = load_definition(args).functions
    assert (function.name, function.memory, function.timeout) == ("scar-cowsay", 128, 300)
    assert function.log_level == "DEBUG"
    assert function.environment == {"L": "1"}
    assert function.input[0].path == "in-bucket/input"
    assert function.output[0].path == "out-bucket"
    assert function.deployment_bucket == "deploy-bucket"
    assert function.api_gateway is not None and function.api_gateway.name == "cow"
    assert function.preheat


def test_init_flags_win_over_the_fdl() -> None:
    cow("      memory: 1024\n")
    (function,) = load_definition(parse("init", "-f", "scar.yaml", "-m", "2048", "-d",
                                        "from the command line")).functions
    assert (function.memory, function.description) == (2048, "from the command line")


def test_the_profile_flag_wins_over_every_service_s_profile() -> None:
    """SCAR's -pf is the profile of every call: the FDL's per-service profiles, which had to
    be the function's, do not stand in its way (a different one without -pf is refused)."""
    cow("      boto_profile: team\n    iam: {boto_profile: team}\n"
        "    cloudwatch: {boto_profile: team}\n")
    (function,) = load_definition(parse("init", "-f", "scar.yaml", "-pf", "other")).functions
    assert function.boto_profile == "other"
    (function,) = load_fdl("scar.yaml", overrides={"lambda": {"boto_profile": "other"}}
                           ).functions  # run, invoke, rm, ls, put, get: profile_override
    assert function.boto_profile == "other"
    cow("      boto_profile: team\n    iam: {boto_profile: other}\n")
    assert any("iam.boto_profile: 'other'" in p for p in problems())


def test_scar_1_event_source_is_an_input_and_output_folder() -> None:
    overrides = definition_overrides(parse("init", "-n", "f", "-i", "busybox", "-es", "b"))
    assert overrides["lambda"]["input"][0]["path"] == "b/input"
    assert overrides["lambda"]["output"][0]["path"] == "b/output"


def test_an_image_without_a_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="needs a name: -n NAME"):
        load_definition(parse("init", "-i", "grycap/cowsay"))


def test_image_and_fdl_exclude_each_other_as_in_scar(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parse("init", "-f", "scar.yaml", "-i", "grycap/cowsay")
    assert "not allowed with argument" in capsys.readouterr().err


def test_scar_names_and_flags_are_accepted() -> None:
    assert parse("log", "-n", "f", "-ls", "s", "-ri", "r", "-pf", "p").verb == "log"
    assert parse("logs", "--log-stream-name", "s", "-n", "f").stream == "s"
    assert parse("run", "--conf-file", "x.yaml", "--run-script", "s.sh", "-ib", "b/in",
                 "--output-file", "o").output == "o"
    assert parse("rm", "-a", "-j").all
    assert parse("ls", "-j", "-pf", "p").json
    assert parse("invoke", "-n", "f", "-d", "img.jpg").data_binary == "img.jpg"
    for verb in ("init", "run", "invoke", "rm", "log", "ls", "put", "get"):
        assert "-pf" in build_parser()._subparsers._group_actions[0].choices[verb].format_help()
    text = build_parser().format_help()
    assert "deploy (init)" in text and "logs (log)" in text


def test_invoke_parameters_take_scar_json_and_pairs() -> None:
    assert parameters(['{"key1": "value1", "key2": ["value2", "value3"], "n": 3}', "a=b"]) == {
        "key1": "value1", "key2": ["value2", "value3"], "n": "3", "a": "b"}
    with pytest.raises(UsageError, match="not a JSON object"):
        parameters(["{nope"])
    with pytest.raises(UsageError):
        parameters(['{"bad name": "x"}'])
