"""Suite-wide: the longest files start first, and a wait for background runs before bit-for-bit comparisons.

`scripts/test.sh` runs the suite on two xdist workers, one file per worker at a time
(`--dist loadfile`), handing out files in collection order. Files with end-to-end runs on the
real backbone (marked `slow`) therefore come first, the file with the most of them at the front,
so no three-minute file starts last while the other worker idles. The order inside a file, and
of all other files, is unchanged.
"""
from __future__ import annotations

import threading
import time
import warnings
from collections import Counter

import pytest


def _file(item) -> str:
    return item.nodeid.split("::")[0]


def pytest_collection_modifyitems(session, config, items):
    slow = Counter(_file(item) for item in items if item.get_closest_marker("slow"))
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(_file(item), index)
    items.sort(key=lambda item: (-slow[_file(item)], first_seen[_file(item)]))


def _background_runs() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("orca-run-") and t.is_alive()]


@pytest.fixture
def no_runs_in_background():
    """For tests that compare two runs bit for bit: runs an earlier test left going in this process
    draw dropout masks from the same global torch RNG and would make the two differ; wait for them
    to end first (they are tiny runs; a leftover still alive after two minutes is reported)."""
    deadline = time.monotonic() + 120
    while _background_runs() and time.monotonic() < deadline:
        time.sleep(0.2)
    if _background_runs():
        warnings.warn(f"runs still going in the background: {_background_runs()}")
    yield
