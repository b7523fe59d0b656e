"""The function package is reproducible, so its hash compares with Lambda's CodeSha256."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

from scar_ci.aws.lambda_ import code_sha256
from scar_ci.package.function_zip import function_config, function_zip
from scar_ci.supervisor.config import load_config


def test_same_inputs_same_bytes_and_the_supervisor_reads_the_config(tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("echo hi\n")
    config = function_config(
        "f--pr-1", {"image": "busybox", "timeout_threshold": 10, "environment": {"A": "1"}},
        script, [{"storage_provider": "s3", "path": "b--pr-1/in"}],
        [{"storage_provider": "s3", "path": "b--pr-1/out", "prefix": [], "suffix": [".txt"]}],
        {})
    first = function_zip(config, {"run.sh": script})
    script.touch()  # a new mtime changes nothing
    assert function_zip(dict(reversed(config.items())), {"run.sh": script}) == first
    assert code_sha256(first) == base64.b64encode(hashlib.sha256(first).digest()).decode()

    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["run.sh", "scar-function.json"]
        (tmp_path / "task").mkdir()
        archive.extractall(tmp_path / "task")
    loaded = load_config(tmp_path / "task" / "scar-function.json")
    assert loaded.name == "f--pr-1"
    assert loaded.image == "busybox"
    assert loaded.init_script == tmp_path / "task" / "run.sh"
    assert loaded.inputs == (("s3", "b--pr-1/in"),)
    assert loaded.outputs[0].suffix == (".txt",)
    assert json.loads((tmp_path / "task" / "scar-function.json").read_text())["runtime"] == (
        "udocker")
