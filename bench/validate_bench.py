"""CPU time of validating large FDL files (`load_fdl`, what `scar-ci validate` and every
deploy run first), for 1,000, 2,000 and 10,000 functions.

    .venv/bin/python bench/validate_bench.py [--sizes 1000,2000,10000]

Each function is one flow-style line (about 87 bytes: 10,000 functions make an 870 KB file,
under the 1 MiB cap). Prints the file size, the CPU seconds and the outcome: valid, or the
first problem (past MAX_FUNCTIONS the FDL is refused, docs/fdl.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from scar_ci.errors import UserError
from scar_ci.fdl import load_fdl


def write_fdl(folder: Path, count: int) -> Path:
    (folder / "run.sh").write_text("#!/bin/sh\necho hi\n")
    lines = ["functions:", "  aws:"]
    lines += [f"  - lambda: {{name: fn{i:05}, init_script: run.sh, "
              f"container: {{image: 'busybox:1.36'}}}}" for i in range(count)]
    path = folder / f"scar-{count}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,10000")
    args = parser.parse_args()
    print("| functions | file | CPU | outcome |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for count in (int(s) for s in args.sizes.split(",")):
            path = write_fdl(Path(folder), count)
            started = time.process_time()
            try:
                outcome = f"valid, {len(load_fdl(path).functions)} functions"
            except UserError as error:
                outcome = error.render().splitlines()[0].split(": ", 2)[2][:90]
            seconds = time.process_time() - started
            print(f"| {count:,} | {path.stat().st_size / 1000:.0f} KB | {seconds:.2f} s "
                  f"| {outcome} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
