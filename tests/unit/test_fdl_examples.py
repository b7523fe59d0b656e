"""SCAR's documented FDL files and configuration files are accepted unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scar_ci.fdl import FDLError, load_fdl

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "examples" / "scar-docs"
FDLS = sorted(p.name for p in DOCS.glob("*.yaml"))
CONFIGS = sorted(p.name for p in DOCS.glob("*.cfg"))
TYPO_EXAMPLE = ROOT / "tests" / "fdl_corpus" / "scar-docs-fdl-example.yaml"


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory,
                    ) -> None:
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


def test_all_documented_examples_are_here() -> None:
    assert len(FDLS) == 19
    assert CONFIGS == ["keep-ecr-image.cfg", "runtime-image.cfg", "scar.cfg"]


@pytest.mark.parametrize("name", FDLS)
def test_documented_example_validates(name: str) -> None:
    fdl = load_fdl(DOCS / name)
    assert fdl.functions
    for function in fdl.functions:
        for script in (function.init_script, function.run_script, function.container.image_file):
            assert script is None or script.is_file()


@pytest.mark.parametrize("name", CONFIGS)
def test_documented_configuration_file_validates(name: str) -> None:
    assert load_fdl(ROOT / "examples" / "cowsay" / "scar.yaml", config_path=DOCS / name)


def test_documented_configuration_file_sets_the_defaults() -> None:
    fdl = load_fdl(DOCS / "00-basic-cow.yaml", config_path=DOCS / "scar.cfg")
    function = fdl.functions[0]
    assert function.runtime == "python3.12"  # python3.7: a notice (test_scar_config.py)
    assert function.supervisor_version == "1.2.0-rc4"
    assert "UDOCKER_DIR" not in function.environment  # SCAR's layer's own
    assert function.api_gateway is None  # settings for an API, but no API name


def test_complete_example_typo_is_the_only_problem(tmp_path: Path) -> None:
    with pytest.raises(FDLError) as caught:
        load_fdl(TYPO_EXAMPLE)
    (problem,) = caught.value.problems
    assert (problem.position.line, problem.position.col) == (20, 9)
    assert problem.message == "unknown key; did you mean 'timeout_threshold'?"

    fixed = tmp_path / "scar.yaml"
    text = TYPO_EXAMPLE.read_text(encoding="utf-8")
    fixed.write_text(text.replace('timeout_threshold":', "timeout_threshold:"), encoding="utf-8")
    for script in ("ffmpeg-script.sh", "my-script.sh"):  # the Lambda's and OSCAR's scripts
        shutil.copy(TYPO_EXAMPLE.parent / script, tmp_path)
    fdl = load_fdl(fixed)
    (function,) = fdl.functions
    assert function.container.timeout_threshold == 10
    assert function.output[0].provider_type == "s3"
    assert function.output[0].provider_id == "my_s3"
    assert function.output[0].suffix == ("wav", "srt")
    assert [s.cluster_id for s in fdl.oscar] == ["my_oscar"]
    assert {(p.type, p.id) for p in fdl.storage_providers} == {
        ("s3", "my_s3"), ("minio", "my_minio"), ("onedata", "my_onedata")}
    assert "mytoken" not in repr(fdl.storage_providers)


def test_cowsay_example_validates() -> None:
    (function,) = load_fdl(ROOT / "examples" / "cowsay" / "scar.yaml").functions
    assert function.name == "cowsay"
    assert function.api_gateway is not None
    assert function.api_gateway.name == "cowsay"
