"""The function's configuration: `scar-function.json` in the package, plus a few variables.

The file is written by the deploy engine; its shape is documented in docs/supervisor.md.
Secrets (storage provider keys and tokens) are in neither: the file names the SSM
SecureString parameter that holds them (`storage_credentials`), read on first use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scar_ci.supervisor.errors import ConfigError

CONFIG_FILE_NAME = "scar-function.json"
DEFAULT_TIMEOUT_THRESHOLD = 10
RUNTIMES = ("udocker", "image")
BATCH_MODES = ("batch", "lambda-batch")


@dataclass(frozen=True)
class OutputSpec:
    """One FDL output: where files go, and which file names qualify."""

    storage_provider: str
    path: str
    prefix: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()

    def accepts(self, relative: str) -> bool:
        """SCAR's filter: the path relative to the output folder matches a prefix and a suffix."""
        return (not self.prefix or relative.startswith(self.prefix)) and (
            not self.suffix or relative.endswith(self.suffix)
        )


@dataclass(frozen=True)
class BatchTarget:
    """Where a `batch` / `lambda-batch` function submits its jobs."""

    mode: str  # "batch": every event; "lambda-batch": an event Lambda's timeout would kill
    job_queue: str
    job_definition: str
    multi_node: bool = False  # a multi-node parallel job: its overrides go to every node


@dataclass(frozen=True)
class FunctionConfig:
    """Everything the supervisor needs to know about its function."""

    name: str
    runtime: str = "udocker"
    image: str = ""
    image_file: str = ""
    registry: str = ""
    timeout_threshold: float = DEFAULT_TIMEOUT_THRESHOLD
    environment: dict[str, str] = field(default_factory=dict)
    init_script: Path | None = None
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    storage_providers: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    storage_credentials: str = ""  # the SSM parameter with the providers' keys and tokens
    batch: BatchTarget | None = None
    extra_payload: Path | None = None  # SCAR's: the task root, mounted, in $EXTRA_PAYLOAD
    api_overrides: bool = False  # an API request's JSON body may choose the script (IAM only)


@dataclass(frozen=True)
class Settings:
    """Where things live in the sandbox; from environment variables with Lambda defaults."""

    exec_mode: str
    tmp_dir: Path
    udocker_dir: Path
    engine_dir: Path | None

    @classmethod
    def from_environment(cls) -> Settings:
        """Read SCAR_EXEC_MODE, SCAR_TMP_DIR, UDOCKER_DIR and SCAR_UDOCKER_ENGINE_DIR."""
        engine = os.environ.get("SCAR_UDOCKER_ENGINE_DIR") or str(_layer_engine_dir())
        return cls(
            exec_mode=os.environ.get("SCAR_EXEC_MODE") or "F1",
            tmp_dir=Path(os.environ.get("SCAR_TMP_DIR") or "/tmp"),  # noqa: S108 (Lambda's only writable place)
            udocker_dir=Path(os.environ.get("UDOCKER_DIR") or "/tmp/udocker"),  # noqa: S108
            engine_dir=Path(engine) if Path(engine).is_dir() else None,
        )


def _layer_engine_dir() -> Path:
    """`<layer root>/udocker`: the layer holds python/scar_ci/supervisor/ next to udocker/."""
    return Path(__file__).resolve().parents[3] / "udocker"


def config_path() -> Path:
    """SCAR_FUNCTION_CONFIG, else scar-function.json at the task root."""
    explicit = os.environ.get("SCAR_FUNCTION_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task") / CONFIG_FILE_NAME


def load_config(path: Path) -> FunctionConfig:
    """Read and check scar-function.json; a wrong shape is a ConfigError naming the key."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: the function package must carry its {CONFIG_FILE_NAME} "
            "(redeploy with scar-ci, or set SCAR_FUNCTION_CONFIG)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable as JSON ({exc}); redeploy with scar-ci") from None
    return _parse(_Reader(path), raw)


class _Reader:
    """Typed access to the JSON document, with errors naming the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, obj: Any, where: str, key: str, kind: type, default: Any) -> Any:
        value = obj.get(key, default) if isinstance(obj, dict) else default
        if value is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            self.fail(f"{where}{key}", f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def strings(self, obj: Any, where: str, key: str) -> tuple[str, ...]:
        values = self.get(obj, where, key, list, [])
        if not all(isinstance(v, str) for v in values):
            self.fail(f"{where}{key}", "expected a list of strings")
        return tuple(values)

    def string_map(self, obj: Any, where: str, key: str) -> dict[str, str]:
        values = self.get(obj, where, key, dict, {})
        if not all(isinstance(v, str | int | float) for v in values.values()):
            self.fail(f"{where}{key}", "expected string values")
        return {str(k): str(v) for k, v in values.items()}

    def fail(self, key: str, problem: str) -> None:
        raise ConfigError(f"{self.path}: {key}: {problem}; redeploy with a corrected FDL")


def _parse(r: _Reader, raw: Any) -> FunctionConfig:
    if not isinstance(raw, dict):
        r.fail("(top level)", "expected a JSON object")
    container = r.get(raw, "", "container", dict, {})
    runtime = r.get(raw, "", "runtime", str, "udocker")
    if runtime not in RUNTIMES:
        r.fail("runtime", f"{runtime!r} is not one of {', '.join(RUNTIMES)}")
    init = r.get(raw, "", "init_script", str, "")
    inputs = r.get(raw, "", "input", list, [])
    outputs = r.get(raw, "", "output", list, [])
    return FunctionConfig(
        name=r.get(raw, "", "name", str, "") or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        runtime=runtime,
        image=r.get(container, "container.", "image", str, ""),
        image_file=r.get(container, "container.", "image_file", str, ""),
        registry=r.get(container, "container.", "registry", str, ""),
        timeout_threshold=r.get(
            container, "container.", "timeout_threshold", float, DEFAULT_TIMEOUT_THRESHOLD
        ),
        environment=r.string_map(container, "container.", "environment"),
        init_script=(r.path.parent / init) if init else None,
        inputs=tuple(
            (
                r.get(item, f"input[{i}].", "storage_provider", str, "s3"),
                r.get(item, f"input[{i}].", "path", str, ""),
            )
            for i, item in enumerate(inputs)
        ),
        outputs=tuple(
            OutputSpec(
                storage_provider=r.get(item, f"output[{i}].", "storage_provider", str, "s3"),
                path=r.get(item, f"output[{i}].", "path", str, "") or r.fail(
                    f"output[{i}].path", "missing; give bucket[/folder]"
                ),
                prefix=r.strings(item, f"output[{i}].", "prefix"),
                suffix=r.strings(item, f"output[{i}].", "suffix"),
            )
            for i, item in enumerate(outputs)
        ),
        storage_providers=r.get(raw, "", "storage_providers", dict, {}),
        storage_credentials=r.get(raw, "", "storage_credentials", str, ""),
        batch=_batch(r, r.get(raw, "", "batch", dict, {})),
        extra_payload=r.path.parent if r.get(raw, "", "extra_payload", bool, False) else None,
        api_overrides=r.get(raw, "", "api_overrides", bool, False),
    )


def _batch(r: _Reader, raw: dict[str, Any]) -> BatchTarget | None:
    if not raw:
        return None
    mode = r.get(raw, "batch.", "mode", str, "")
    if mode not in BATCH_MODES:
        r.fail("batch.mode", f"{mode!r} is not one of {', '.join(BATCH_MODES)}")
    return BatchTarget(mode, r.get(raw, "batch.", "job_queue", str, ""),
                       r.get(raw, "batch.", "job_definition", str, ""),
                       r.get(raw, "batch.", "multi_node", bool, False))
