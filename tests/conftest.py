"""Shared fixtures: the test bed's pytest plugins; the order test files are handed out in."""

from collections import Counter
from pathlib import Path

import pytest

pytest_plugins = [
    "scar_testbed.fixtures_aws",
    "scar_testbed.fixtures_moto",
    "scar_testbed.fixtures_containers",
    "scar_testbed.fake_github",
    "scar_testbed.fake_onedata",
    "scar_testbed.fake_oscar",
    "scar_testbed.oidc_issuer",
]

TESTS = Path(__file__).parent
# The files that take longest, longest first (docs/testbed.md#the-whole-suite). `make test`
# runs xdist with `--no-loadscope-reorder`, which hands files to the two workers in collection
# order: these go first, then the other integration files, then the unit ones (each group by
# its files' number of tests, xdist's own order), so the run ends on many short files instead
# of one worker running a long one while the other idles.
LONGEST_FIRST = (
    "integration/test_scar_docs_replay.py",
    "integration/test_scar_docs_replay_batch.py",
    "integration/test_image_build.py",
    "integration/test_batch_deploy.py",
    "integration/test_image_deploy_docker.py",
    "integration/test_deploy_faults.py",
    "integration/test_action_image.py",
    "integration/test_pip_install.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if gone := [name for name in LONGEST_FIRST if not (TESTS / name).is_file()]:
        raise pytest.UsageError(f"tests/conftest.py: LONGEST_FIRST names files that are not "
                                f"there: {', '.join(gone)}")
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    tests = Counter(item.path for item in items)

    def order(item: pytest.Item) -> tuple[int, bool, int]:
        name = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        return rank.get(name, len(rank)), name.startswith("unit/"), -tests[item.path]

    items.sort(key=order)  # stable: a file's tests keep their order, files are not mixed
