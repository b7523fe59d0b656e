"""How long the action's image takes to be ready on a runner: built from the Dockerfile (what
`runs.image: Dockerfile` makes every job do) against pulled from a registry (what the
released `docker://ghcr.io/...@sha256:` does), and its size.

podman (overlay storage) in a fresh folder; the base is the test bed's Debian stand-in (made
once with mmdebstrap, already in storage before the clock starts, as a runner's cached base
would be); the engines tarball is the test bed's small fake served locally, so a real build
adds udocker's ~10 MB download to the figures. pip fetches the locked wheels from PyPI
(through this machine's index). Then the image is pushed to a local registry (Debian's
docker-registry) and pulled into another fresh storage. Run: .venv/bin/python
bench/action_image_bench.py
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scar_testbed.action_image import build_action_image, fake_engines, serving_file, standin_base
from scar_testbed.podman import Podman
from scar_testbed.registry import start_registry


def timed(action: Callable[[], object]) -> float:
    """Seconds `action` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="action-image-bench-") as tmp:
        root = Path(tmp)
        registry = start_registry(root / "registry")
        try:
            builder = Podman.prepare(root / "build", [registry.host], driver="overlay")
            puller = Podman.prepare(root / "pull", [registry.host], driver="overlay")
            base = standin_base(builder)
            path, blob = fake_engines(root)
            with serving_file(path) as url:
                cold = timed(lambda: build_action_image(builder, "localhost/scar-action:b",
                                                        base, url, blob))
                warm = timed(lambda: build_action_image(builder, "localhost/scar-action:b",
                                                        base, url, blob))
            size = json.loads(builder.run("image", "inspect", "localhost/scar-action:b").stdout
                              )[0]["Size"]
            remote = f"{registry.host}/scar-action:bench"
            builder.run("push", "--tls-verify=false", "localhost/scar-action:b", remote)
            pull = timed(lambda: puller.run("pull", "--tls-verify=false", remote))
        finally:
            registry.stop()
    print("| how the runner gets the image | seconds |")
    print("|---|---|")
    print(f"| build from the Dockerfile, no layer cache (a fresh runner) | {cold:.1f} |")
    print(f"| build again, every layer cached | {warm:.1f} |")
    print(f"| pull from a local registry | {pull:.1f} |")
    print(f"\nimage size: {size / 1e6:.0f} MB (uncompressed)")


if __name__ == "__main__":
    main()
