"""Suite-wide collection order: the longest files start first.

`scripts/test.sh` runs the suite on two xdist workers, one file per worker at a time
(`--dist loadfile`), handing out files in collection order. Files with end-to-end runs on the
real backbone (marked `slow`) therefore come first, the file with the most of them at the front,
so no three-minute file starts last while the other worker idles. The order inside a file, and
of all other files, is unchanged.
"""
from __future__ import annotations

from collections import Counter


def pytest_collection_modifyitems(session, config, items):
    slow = Counter(item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow"))
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.nodeid.split("::")[0], index)
    items.sort(key=lambda item: (-slow[item.nodeid.split("::")[0]], first_seen[item.nodeid.split("::")[0]]))
