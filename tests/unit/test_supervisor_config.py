"""scar-function.json: the contract between the deploy engine and the supervisor."""

import json

import pytest

from scar_ci.supervisor.config import OutputSpec, Settings, load_config
from scar_ci.supervisor.errors import ConfigError

FULL = {
    "name": "thumbs--pr-42",
    "runtime": "udocker",
    "container": {"image": "grycap/imagemagick", "timeout_threshold": 5,
                  "environment": {"MODE": "gray", "N": 3}},
    "init_script": "grayify.sh",
    "input": [{"storage_provider": "s3", "path": "scar-thumbs/input"}],
    "output": [{"storage_provider": "minio.local", "path": "scar-thumbs/output",
                "prefix": ["result-"], "suffix": [".png"]}],
    "storage_providers": {"minio": {"local": {"endpoint": "http://127.0.0.1:9000",
                                              "access_key": "a", "secret_key": "b"}}},
}


def write(tmp_path, document) -> object:
    path = tmp_path / "scar-function.json"
    path.write_text(json.dumps(document))
    return path


def test_a_full_configuration_is_read(tmp_path):
    config = load_config(write(tmp_path, FULL))
    assert config.name == "thumbs--pr-42"
    assert config.image == "grycap/imagemagick"
    assert config.timeout_threshold == 5.0
    assert config.environment == {"MODE": "gray", "N": "3"}
    assert config.init_script == tmp_path / "grayify.sh"
    assert config.inputs == (("s3", "scar-thumbs/input"),)
    expected = OutputSpec("minio.local", "scar-thumbs/output", ("result-",), (".png",))
    assert config.outputs == (expected,)


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "from-env")
    config = load_config(write(tmp_path, {"container": {"image": "busybox"}}))
    assert (config.name, config.runtime, config.timeout_threshold) == ("from-env", "udocker", 10.0)
    assert config.outputs == () and config.init_script is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"runtime": "docker"}, "runtime: 'docker' is not one of udocker, image"),
        ({"container": {"image": 3}}, "container.image: expected str"),
        ({"container": {"timeout_threshold": True}}, "container.timeout_threshold: expected float"),
        ({"output": [{"path": "b", "suffix": "png"}]}, r"output\[0\].suffix: expected list"),
        ({"output": [{"storage_provider": "s3"}]}, r"output\[0\].path: missing"),
        ([], "expected a JSON object"),
    ],
)
def test_wrong_shapes_name_the_key(tmp_path, document, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, document))


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(ConfigError, match="redeploy with scar-ci, or set SCAR_FUNCTION_CONFIG"):
        load_config(tmp_path / "scar-function.json")


@pytest.mark.parametrize(
    ("relative", "accepted"),
    [("result-a.png", True), ("result-a.jpg", False), ("a.png", False),
     ("sub/result-a.png", False)],
)
def test_output_filters_match_like_scar(relative, accepted):
    assert OutputSpec("s3", "b", ("result-",), (".png",)).accepts(relative) is accepted


def test_settings_defaults_are_lambdas(monkeypatch):
    for name in ("SCAR_EXEC_MODE", "SCAR_TMP_DIR", "UDOCKER_DIR", "SCAR_UDOCKER_ENGINE_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_environment()
    assert (settings.exec_mode, str(settings.tmp_dir), str(settings.udocker_dir)) == (
        "F1", "/tmp", "/tmp/udocker")
