"""Real small time-series sets with official splits, from the `aeon` wheel on PyPI.

The wheel ships a few UCR/UEA sets as `.ts` files and the published accuracies of InceptionTime,
HC2 and others. aeon itself does not fit our pins (it caps numba and pandas below ours), so the
wheel is only downloaded (`pip download --no-deps`) and unpacked: nothing of it is imported.

    path = npz_for("ACSF1")            # .cache/real-data/ACSF1.npz with x_train, y_train, x_test, y_test
    anchors("ACSF1")                   # {"InceptionTime": 0.91, "HC2": 0.91, ...} on the official split

Only the sets named in BENCH_SETS are read. The wheel's other sets are kept unseen on purpose: the
product is checked on them as data it never saw, so no benchmark or test here may touch them.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "real-data"
AEON_VERSION = "1.6.0"
# name -> (file stem in the wheel, task); unequal-length sets use the wheel's equal-length ("_eq") copy
BENCH_SETS = {
    "ACSF1": ("ACSF1/ACSF1", "classification"),
    "JapaneseVowels": ("JapaneseVowels/JapaneseVowels_eq", "classification"),
    "PickupGestureWiimoteZ": ("PickupGestureWiimoteZ/PickupGestureWiimoteZ_eq", "classification"),
    "Covid3Month": ("Covid3Month/Covid3Month", "regression"),
}
ANCHOR_NAMES = {"ACSF1": "ACSF1", "JapaneseVowels": "JapaneseVowels",
                "PickupGestureWiimoteZ": "PickupGestureWiimoteZ_eq", "Covid3Month": "Covid3Month"}


def wheel() -> Path:
    """The aeon wheel, downloaded once into the cache (PyPI only, no dependencies)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"aeon-{AEON_VERSION}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE),
                        f"aeon=={AEON_VERSION}"], check=True)
        found = sorted(CACHE.glob(f"aeon-{AEON_VERSION}-*.whl"))
    return found[0]


def read_ts(text: str, regression: bool) -> tuple[np.ndarray, np.ndarray]:
    """Parse a `.ts` file of equal-length series: -> x (N, C, L) float32, y (N,) str or float32."""
    rows, labels, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        rows.append([[float(v) if v not in ("?", "NaN") else np.nan for v in c.split(",")] for c in channels])
        labels.append(label.strip())
    x = np.asarray(rows, dtype=np.float32)  # (N, C, L): fails loudly on unequal lengths
    y = np.asarray(labels, dtype=np.float32) if regression else np.asarray(labels)
    return x, y


def npz_for(name: str) -> Path:
    """The set as the `.npz` a user would upload: x_train, y_train, x_test, y_test (official split)."""
    stem, task = BENCH_SETS[name]
    out = CACHE / f"{name}.npz"
    if out.exists():
        return out
    parts = {}
    with zipfile.ZipFile(wheel()) as zf:
        for split in ("TRAIN", "TEST"):
            text = zf.read(f"aeon/datasets/data/{stem}_{split}.ts").decode("utf-8")
            x, y = read_ts(text, regression=task == "regression")
            parts[f"x_{split.lower()}"], parts[f"y_{split.lower()}"] = x, y
    np.savez(out, **parts)
    return out


def anchors(name: str) -> dict[str, float]:
    """Published accuracies on the official split (resample 0) from the wheel's results files."""
    found: dict[str, float] = {}
    key = ANCHOR_NAMES[name]
    with zipfile.ZipFile(wheel()) as zf:
        for member in zf.namelist():
            if "example_results_files/classification/accuracy/" not in member or not member.endswith(".csv"):
                continue
            model = Path(member).stem.replace("_accuracy", "")
            for row in csv.reader(zf.read(member).decode("utf-8").splitlines()):
                if row and row[0] == key:
                    found[model] = float(row[1])
    return found
