"""load_fdl: defaults and their precedence, positions, files, the model, and the CLI around it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scar_ci.cli import main
from scar_ci.fdl import FDLError, load_fdl
from scar_ci.fdl.schema import fdl_schema

COW = """\
functions:
  aws:
  - lambda:
      name: cow
{extra}      container:
        image: grycap/cowsay
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A work folder that is its own git repository; no user config, region or Actions."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "GITHUB_ACTIONS", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")


def write(path: str, text: str) -> Path:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")
    return file


def cow(extra: str = "") -> Path:
    """scar.yaml with one function; `extra` lines go into its `lambda` mapping."""
    return write("scar.yaml", COW.format(extra=extra))


def problems(**kwargs: object) -> list[str]:
    with pytest.raises(FDLError) as caught:
        load_fdl("scar.yaml", **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


# --- defaults and precedence -------------------------------------------------------------

def test_builtin_defaults() -> None:
    cow()
    (f,) = load_fdl("scar.yaml").functions
    assert (f.memory, f.timeout, f.container.timeout_threshold) == (512, 300, 10)
    assert (f.runtime, f.execution_mode, f.log_level, f.region) == (
        "python3.12", "lambda", "INFO", "us-east-1")
    assert (f.architectures, f.layers, f.iam_role, f.api_gateway) == (("x86_64",), (), None, None)
    assert (f.log_retention_days, f.delete_image, f.supervisor_version) == (30, None, "latest")


def test_region_follows_the_aws_environment_unless_the_fdl_sets_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    cow()
    (f,) = load_fdl("scar.yaml").functions
    assert f.region == f.batch.region == "eu-west-3"
    cow("      region: ap-south-1\n")
    assert load_fdl("scar.yaml").functions[0].region == "ap-south-1"


def test_precedence_command_line_fdl_config_builtin() -> None:
    cow("      memory: 2048\n      environment:\n        Variables:\n          FROM_FDL: b\n")
    write("scar.cfg", json.dumps({"aws": {
        "lambda": {"memory": 1024, "timeout": 100, "log_level": "DEBUG",
                   "environment": {"Variables": {"FROM_CONFIG": "a", "FROM_FDL": "config"}}},
        "ecr": {"delete_image": False}}}))
    fdl = load_fdl("scar.yaml", config_path="scar.cfg",
                   overrides={"lambda": {"log_level": "ERROR"}})
    (f,) = fdl.functions
    assert f.memory == 2048  # FDL over configuration file
    assert f.timeout == 100  # configuration file over built-in
    assert f.log_level == "ERROR"  # command line over everything
    assert f.container.timeout_threshold == 10  # built-in
    assert f.delete_image is False
    assert dict(f.environment) == {"FROM_CONFIG": "a", "FROM_FDL": "b"}
    assert str(fdl.position_of(("functions", "aws", 0, "lambda", "memory"))) == "scar.yaml:5:15"
    assert fdl.position_of(("functions", "aws", 0, "lambda", "timeout")).file == "scar.cfg"


def test_scar_cfg_in_home_is_used_when_present() -> None:
    cow()
    write(str(Path("~/.scar/scar.cfg").expanduser()), '{"aws": {"lambda": {"memory": 3008}}}')
    assert load_fdl("scar.yaml").functions[0].memory == 3008


def test_configuration_file_problems_name_the_configuration_file() -> None:
    cow("      memroy: 1\n")
    write("scar.cfg", '{\n  "aws": {\n    "lambda": {"memory": 99999}\n  }\n}\n')
    assert problems(config_path="scar.cfg") == [
        "scar.yaml:5:7: functions.aws[0].lambda.memroy: unknown key; did you mean 'memory'?",
        "scar.cfg:3:26: aws.lambda.memory: 99999 is above the maximum 10240 (MB)",
    ]
    with pytest.raises(FDLError) as caught:
        load_fdl("scar.yaml", config_path="scar.cfg")
    assert caught.value.summary() == "2 problems in scar.yaml and scar.cfg; nothing was deployed."


def test_configuration_file_syntax_and_absence() -> None:
    cow()
    write("scar.cfg", '{"aws": {"lambda": {"memory": 1024,}}}')
    assert problems(config_path="scar.cfg") == [
        "scar.cfg:1:36: not valid JSON: Expecting property name enclosed in double quotes"]
    assert problems(config_path="nowhere.cfg") == ["nowhere.cfg: configuration file not found"]
    Path("folder.cfg").mkdir()
    assert problems(config_path="folder.cfg") == [
        "folder.cfg: is a folder, not a configuration file"]
    assert problems(config_path="/dev/zero") == [
        "/dev/zero: larger than 1 MiB; a configuration file is a short JSON text"]


def test_command_line_values_are_validated_too() -> None:
    cow()
    assert problems(overrides={"lambda": {"memory": 64}}) == [
        "<command line>: functions.aws[0].lambda.memory: 64 is below the minimum 128 (MB)"]


# --- YAML details --------------------------------------------------------------------------

def test_merge_keys_override_without_being_duplicates() -> None:
    write("scar.yaml", """\
defaults: &defaults
  memory: 1024
  container: {image: grycap/cowsay}
functions:
  aws:
  - lambda:
      <<: *defaults
      name: cow
      memory: 2048
""")
    assert problems() == [
        "scar.yaml:1:1: defaults: unknown key; expected one of: functions, storage_providers"]


def test_alias_bomb_is_refused() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for parent, child in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{child}: &{child} [{', '.join(['*' + parent] * 10)}]")  # 10**7 values
    write("scar.yaml", "\n".join(lines) + "\n")
    assert problems() == [
        "scar.yaml:1:1: the file expands to more than 100000 values (too many aliases)"]


def test_dates_stay_text_and_unsafe_tags_are_refused() -> None:
    cow("      description: 2024-01-01\n")
    assert load_fdl("scar.yaml").functions[0].description == "2024-01-01"
    cow("      description: !!python/object/apply:os.system ['true']\n")
    (problem,) = problems()
    assert problem == ("scar.yaml:5:20: functions.aws[0].lambda.description: "
                       "unsupported tag '!!python/object/apply:os.system'")


# --- files next to the FDL -----------------------------------------------------------------

def test_scripts_resolve_next_to_the_fdl_and_may_use_the_whole_repository() -> None:
    write("scripts/run.sh", "echo hi\n")
    write("fdl/scar.yaml", COW.format(extra="      init_script: ../scripts/run.sh\n"))
    (f,) = load_fdl("fdl/scar.yaml").functions
    assert f.init_script == Path("scripts/run.sh").resolve()


def test_outside_git_the_fdl_folder_is_the_boundary(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    write(str(tmp_path / "plain" / "x.sh"), "echo\n")
    write(str(tmp_path / "plain" / "in" / "scar.yaml"),
          COW.format(extra="      init_script: ../x.sh\n"))
    with pytest.raises(FDLError) as caught:
        load_fdl(tmp_path / "plain" / "in" / "scar.yaml")
    assert caught.value.problems[0].message == (
        "'../x.sh' leaves the repository (under GitHub Actions an FDL's files must be in its "
        "repository)")


def test_a_symbolic_link_out_of_the_repository_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    outside = write(str(tmp_path / "secret.sh"), "echo secret\n")
    Path("link.sh").symlink_to(outside)
    cow("      init_script: link.sh\n")
    assert problems() == [
        "scar.yaml:5:20: functions.aws[0].lambda.init_script: 'link.sh' leaves the repository "
        "(under GitHub Actions an FDL's files must be in its repository)"]


def test_outside_actions_files_may_be_anywhere_readable(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """SCAR's examples name /tmp files (grycap/scar's examples/mpi): a local user's CLI."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    outside = write(str(tmp_path / "run_helper.sh"), "echo\n")
    cow(f"      run_script: {outside}\n")
    (f,) = load_fdl("scar.yaml").functions
    assert f.run_script == outside.resolve()
    cow(f"      run_script: {tmp_path / 'missing.sh'}\n")
    assert problems()[0].endswith("not found next to scar.yaml")


# --- the model -----------------------------------------------------------------------------

def test_model_is_immutable() -> None:
    cow("      layers: [arn:aws:lambda:us-east-1:000000000000:layer:x:1]\n")
    fdl = load_fdl("scar.yaml")
    (f,) = fdl.functions
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.memory = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        f.raw["lambda"]["memory"] = 1  # type: ignore[index]
    assert isinstance(f.layers, tuple)
    assert isinstance(f.raw["lambda"]["layers"], tuple)
    assert fdl.function("cow") is f
    assert str(f.position) == "scar.yaml:3:5"
    assert fdl.path == Path("scar.yaml").resolve()


def test_schema_accepts_every_key_of_the_fdl_reference() -> None:
    write("init.sh", "echo\n")
    write("s.sh", "echo\n")  # the OSCAR service's script
    write("image.tar", "")
    write("extra/readme.txt", "")
    write("scar.yaml", EVERY_KEY)
    fdl = load_fdl("scar.yaml")
    image, tarball = fdl.functions
    assert tarball.container.image_file == Path("image.tar").resolve()
    assert image.file_systems[0].local_mount_path == "/mnt/efs"
    assert image.batch.compute_resources["instance_types"] == ("m5.large",)
    assert image.api_gateway is not None
    assert image.api_gateway.stage_name == "dev"
    assert image.deployment_bucket == "my-bucket"
    assert image.environment == {"A": "1", "ON": "true"}


def test_schema_is_draft_2020_12_and_closed() -> None:
    import jsonschema

    schema = fdl_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    open_objects = [path for path, node in _objects(schema)
                    if node.get("type") == "object" and "properties" in node
                    and node.get("additionalProperties") is not False]
    assert open_objects == []


def _objects(node: object, path: str = "") -> list[tuple[str, dict]]:
    if isinstance(node, dict):
        return [(path, node), *(x for k, v in node.items() for x in _objects(v, f"{path}/{k}"))]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _objects(v, f"{path}/{i}")]
    return []


# --- the command line ----------------------------------------------------------------------

def test_validate_prints_a_summary(capsys: pytest.CaptureFixture) -> None:
    cow()
    assert main(["validate", "-f", "scar.yaml"]) == 0
    assert capsys.readouterr().out == "scar.yaml: valid, 1 function (cow)\n"


def test_validate_missing_file(capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", "-f", "nope.yaml"]) == 2
    assert capsys.readouterr().err == (
        "nope.yaml: file not found\n1 problem in nope.yaml; nothing was deployed.\n")


def test_annotations_under_github_actions(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    write("sub/scar.yaml", COW.format(extra="      memory: 99999\n      memroy: 1\n"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(Path.cwd()))
    assert main(["validate", "-f", str(Path("sub/scar.yaml").resolve())]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "::error file=sub/scar.yaml,line=5,col=15::"
        "functions.aws[0].lambda.memory: 99999 is above the maximum 10240 (MB)",
        "::error file=sub/scar.yaml,line=6,col=7::"
        "functions.aws[0].lambda.memroy: unknown key; did you mean 'memory'?",
    ]
    assert err.endswith("2 problems in " + str(Path("sub/scar.yaml").resolve())
                        + "; nothing was deployed.\n")


def test_annotation_properties_are_escaped(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    write("a,b:c.yaml", "- not a mapping\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["validate", "-f", "a,b:c.yaml"]) == 2
    assert capsys.readouterr().out == (
        "::error file=a%2Cb%3Ac.yaml,line=1,col=1::"
        "expected a mapping with 'functions:' at the top, got a list\n")


def test_an_annotation_without_a_line_names_the_file(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["validate", "-f", "nope.yaml"]) == 2
    assert capsys.readouterr().out == "::error::nope.yaml: file not found\n"


EVERY_KEY = """\
functions:
  aws:
  - lambda:
      boto_profile: default
      region: eu-west-1
      description: every key
      name: every-key
      memory: 10240
      timeout: 900
      runtime: image
      architectures: [arm64]
      execution_mode: lambda-batch
      log_level: CRITICAL
      layers: [arn:a, arn:b, arn:c, arn:d]
      environment: {Variables: {A: 1, "ON": true}}
      init_script: init.sh
      run_script: init.sh
      preheat: false
      asynchronous: true
      invocation_type: Event
      log_type: None
      vpc: {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1]}
      file_system: [{Arn: "arn:...", LocalMountPath: /mnt/efs}]
      deployment: {bucket: my-bucket, max_payload_size: 52428800,
                   max_s3_payload_size: 262144000}
      container:
        image: grycap/cowsay
        timeout_threshold: 0
        environment: {Variables: {K: v}}
        alpine: true
        create_image: false
      input: [{storage_provider: minio.m, path: in}]
      output: [{storage_provider: s3, path: out, prefix: [a], suffix: [b]}]
      supervisor: {version: 1.5.0, layer_name: faas-supervisor, license_info: Apache 2.0}
    iam: {boto_profile: default, role: ""}
    api_gateway:
      boto_profile: default
      region: eu-west-1
      name: api
      stage_name: dev
      http_method: POST
      endpoint: https://{api_id}.execute-api.{api_region}.amazonaws.com/{stage_name}/launch
      request_parameters: {integration.request.header.X-Amz-Invocation-Type:
                           method.request.header.X-Amz-Invocation-Type}
      method: {authorizationType: NONE,
               requestParameters: {method.request.header.X-Amz-Invocation-Type: false}}
      integration: {type: AWS_PROXY, integrationHttpMethod: POST, uri: "arn:aws:apigateway:\
{api_region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{lambda_region}:\
{account_id}:function:{function_name}/invocations",
                    requestParameters: {integration.request.header.X-Amz-Invocation-Type:
                                        method.request.header.X-Amz-Invocation-Type}}
      path_part: "{proxy+}"
      service_id: apigateway.amazonaws.com
      source_arn_testing: "arn:aws:execute-api:{api_region}:{account_id}:{api_id}/*"
      source_arn_invocation: "arn:aws:execute-api:{api_region}:{account_id}:{api_id}/\
{stage_name}/ANY"
    cloudwatch: {boto_profile: default, region: eu-west-1, log_retention_policy_in_days: 7}
    ecr: {delete_image: false}
    batch:
      boto_profile: default
      region: eu-west-1
      vcpus: 2
      memory: 2048
      enable_gpu: true
      service_role: "arn:..."
      state: DISABLED
      type: UNMANAGED
      environment: {Variables: {B: x}}
      multi_node_parallel: {enabled: true, number_nodes: 3, main_node_index: 2}
      compute_resources:
        security_group_ids: [sg-1]
        subnets: [subnet-1]
        type: EC2
        desired_v_cpus: 1
        min_v_cpus: 0
        max_v_cpus: 4
        instance_types: [m5.large]
        launch_template_name: lt
        instance_role: "arn:..."
  - lambda:
      name: tarball
      container: {image_file: image.tar}
  oscar:
  - my_oscar: {name: s, memory: 1Gi, cpu: '1.0', log_level: DEBUG, image: i, script: s.sh,
               environment: {Variables: {C: d}}, input: [{storage_provider: s3, path: p}],
               output: [{storage_provider: s3, path: q}], endpoint: https://o,
               auth_user: u, auth_password: p, ssl_verify: true}
storage_providers:
  s3: {my_s3: {access_key: a, secret_key: b, region: us-east-1}}
  minio: {m: {endpoint: https://minio, verify: false, region: us-east-1, access_key: a,
              secret_key: b}}
  onedata: {od: {oneprovider_host: h, token: t, space: s}}
"""


# --- robustness ----------------------------------------------------------------------------

KEYS = ["functions", "aws", "oscar", "lambda", "name", "container", "image", "image_file",
        "memory", "timeout", "init_script", "input", "output", "storage_provider", "path",
        "batch", "multi_node_parallel", "number_nodes", "main_node_index", "storage_providers",
        "s3", "environment", "Variables", "timeout_threshold", "api_gateway", "<<"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(),
                    st.sampled_from(["", "x", "../x", "/etc/passwd", "s3.a", "cow", "\0"]))
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner,
                                                                max_size=4),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS)
def test_any_document_gives_a_model_or_problems_never_a_crash(doc: object) -> None:
    write("scar.yaml", yaml.safe_dump({"functions": {"aws": [doc]}}))
    try:
        load_fdl("scar.yaml")
    except FDLError as error:
        assert error.problems
        assert all(p.position.file == "scar.yaml" for p in error.problems)


def test_keys_cannot_smuggle_lines_into_the_log(capsys: pytest.CaptureFixture) -> None:
    cow('      "x\\n::warning::owned": 1\n      my key: 2\n')
    assert main(["validate", "-f", "scar.yaml"]) == 2
    err = capsys.readouterr().err
    assert "\n::" not in err
    assert "functions.aws[0].lambda['x\\n::warning::owned']: unknown key" in err
    assert "functions.aws[0].lambda['my key']: unknown key" in err


def test_a_huge_value_or_key_is_shortened_in_messages(capsys: pytest.CaptureFixture) -> None:
    long, key = "a" * 100_000, ("k " * 500).strip()  # YAML's keys stop at 1024 characters
    write("scar.yaml", COW.format(extra=f"      {key}: 1\n").replace("name: cow", f"name: {long}"))
    assert main(["validate", "-f", "scar.yaml"]) == 2
    err = capsys.readouterr().err
    assert len(err) < 2000, err[:300]
    assert f"lambda.name: '{'a' * 200}…' (100000 characters) is not valid" in err
    assert f"lambda['{key[:200]}…' (999 characters)]: unknown key" in err


@pytest.mark.parametrize("source", ["/dev/zero", "big"])
def test_a_file_over_a_mebibyte_is_refused_unread(source: str, capsys: pytest.CaptureFixture,
                                                   ) -> None:
    if source == "big":
        source = str(write("big.yaml", "# " + "x" * (1 << 20) + "\n" + COW.format(extra="")))
    assert main(["validate", "-f", source]) == 2
    assert capsys.readouterr().err == (
        f"{source}: larger than 1 MiB; an FDL file is a short YAML text\n"
        f"1 problem in {source}; nothing was deployed.\n")


def test_names_with_non_ascii_letters_are_told_what_letters_are_meant() -> None:
    cow('      environment:\n        Variables:\n          ÄÖ: "1"\n')
    Path("scar.yaml").write_text(Path("scar.yaml").read_text().replace("name: cow", "name: fünc"))
    assert problems() == [
        "scar.yaml:4:13: functions.aws[0].lambda.name: 'fünc' is not valid; use 1 to 64 ASCII "
        "letters, digits, '-' or '_'",
        "scar.yaml:7:11: functions.aws[0].lambda.environment.Variables['ÄÖ']: 'ÄÖ' is not a "
        "valid key here; use ASCII letters, digits and '_', starting with a letter",
    ]
