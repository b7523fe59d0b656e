"""What both builders add to the user's image: two layers and the settings that make the
supervisor the image's entry.

- the runtime layer (Python, its libraries, awslambdaric, boto3): big, rarely changes;
- the supervisor layer (scar_ci.supervisor under /opt/scar/python, the task files under
  /var/task): small, changes with the init script or the function's configuration.

Only the small layer is pushed again when a script changes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import scar_ci.supervisor
from scar_ci.cache import cache_dir
from scar_ci.errors import UserError
from scar_ci.package.image.runtime import (
    ARCHITECTURES,
    DEFAULT_DISTRIBUTIONS,
    SUPERVISOR_ROOT,
    Runtime,
    host_architecture,
    host_runtime,
    runtime_from_dir,
)
from scar_ci.package.image.runtime_assembly import assembled_runtime
from scar_ci.package.image.spec import TASK_ROOT, FunctionImageSpec, content_tag
from scar_ci.package.image.tar_layer import LayerBlob, LayerFile, image_path, write_layer
from scar_ci.package.layer import STUB_INIT

CACHE_NAME = "scar-ci-image-layers"
RUNTIMES = "runtimes"


@dataclass(frozen=True)
class Payload:
    """The two layers (runtime first) and the image settings for the supervisor."""

    layers: tuple[LayerBlob, LayerBlob]
    runtime_files: tuple[LayerFile, ...]
    supervisor_files: tuple[LayerFile, ...]
    entrypoint: tuple[str, ...]
    env: dict[str, str]
    workdir: str = TASK_ROOT

    def settings(self) -> dict[str, object]:
        """Entrypoint, Env additions, WorkingDir: part of the content tag."""
        return {"Entrypoint": list(self.entrypoint), "Env": dict(sorted(self.env.items())),
                "WorkingDir": self.workdir}

    def content_tag(self, base_id: str, platform: str) -> str:
        """The tag of this payload on the base `base_id` (a manifest digest or image id)."""
        return content_tag(base_id, [b.digest for b in self.layers], self.settings(), platform)


def supervisor_files(task_files: dict[str, bytes]) -> list[LayerFile]:
    """scar_ci.supervisor's modules under SUPERVISOR_ROOT and the task files under /var/task."""
    package = Path(scar_ci.supervisor.__file__).parent
    files = [LayerFile(f"{SUPERVISOR_ROOT}/scar_ci/__init__.py", STUB_INIT)]
    files += [LayerFile(f"{SUPERVISOR_ROOT}/scar_ci/supervisor/{path.name}", path)
              for path in sorted(package.glob("*.py"))]
    for name, content in sorted(task_files.items()):
        relative = image_path(name)
        mode = 0o644 if relative.endswith(".json") else 0o755
        files.append(LayerFile(f"{TASK_ROOT}/{relative}", content, mode))
    return files


def runtime_for(architecture: str, runtime_dir: Path | None = None,
                distributions: Iterable[str] = DEFAULT_DISTRIBUTIONS,
                cache_root: Path | None = None,
                progress: Callable[[str], None] = lambda _: None) -> Runtime:
    """The runtime from `runtime_dir` when given; else the building Python when the
    architecture is the machine's own; else one assembled for it (kept in `cache_root`,
    by default $SCAR_CI_CACHE/runtimes)."""
    if architecture not in ARCHITECTURES:
        raise UserError(f"architecture {architecture!r} is not supported: use x86_64 or arm64")
    if runtime_dir is not None:
        return runtime_from_dir(runtime_dir, architecture)
    if architecture == host_architecture():
        return host_runtime(tuple(distributions))
    return assembled_runtime(architecture, distributions, cache_root or cache_dir() / RUNTIMES,
                             progress)


def prepare_payload(spec: FunctionImageSpec) -> Payload:
    """Build (or find in the cache) both layers for `spec`."""
    runtime = runtime_for(spec.architecture, spec.runtime_dir(), spec.distributions,
                          spec.cache_dir / RUNTIMES if spec.cache_dir else None, spec.progress)
    cache = spec.cache_dir or Path(tempfile.gettempdir()) / CACHE_NAME
    size = sum(file.size() for file in runtime.files)
    spec.progress(f"runtime layer (Python, awslambdaric) {size / 1e6:.0f} MB …")
    runtime_blob = write_layer(runtime.files, cache)
    supervisor = supervisor_files(dict(spec.task_files))
    supervisor_blob = write_layer(supervisor, cache)
    env = {"LAMBDA_TASK_ROOT": TASK_ROOT, **spec.env}
    return Payload((runtime_blob, supervisor_blob), runtime.files, tuple(supervisor),
                   runtime.entrypoint, env)
