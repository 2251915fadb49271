"""How fast each hostile file of the suite is refused in process (issue 10: within 2 s).

    python bench/hostile_refusal.py

Builds every case that `tests/hostile/test_hostile_files.py` also runs through the CLI (bombs,
lying headers, a pickled array, an oversized CSV) and times `load_dataset` until it raises the
clean DataError. The CLI's whole-process peak memory is measured by the test itself
(`pytest -s tests/hostile -k bounded_memory`).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "hostile")]

from orca_engine.config import DataConfig  # noqa: E402
from orca_engine.data import load_dataset  # noqa: E402
from orca_engine.errors import DataError  # noqa: E402
from test_hostile_files import CASES  # noqa: E402


def main() -> int:
    slowest = 0.0
    for case in (c for c in CASES if c.cli):
        source = case.build(Path(tempfile.mkdtemp(prefix="orca-hostile-")))
        saved = {k: os.environ.get(k) for k in case.env}
        os.environ.update(case.env)
        started = time.perf_counter()
        try:
            load_dataset(DataConfig(source=str(source), **case.data), seed=0)
            outcome = "LOADED (should have been refused)"
        except DataError:
            outcome = "refused"
        seconds = time.perf_counter() - started
        slowest = max(slowest, seconds)
        print(f"{case.id}: {outcome} in {seconds:.3f} s")
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    print(f"slowest refusal: {slowest:.3f} s (target: under 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
