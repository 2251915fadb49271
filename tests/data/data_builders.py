"""Tiny files for the data-layer tests, written into pytest's tmp_path (imported by this folder's tests)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from orca_engine.config import DataConfig


def config(source, **overrides) -> DataConfig:
    return DataConfig(source=str(source), **overrides)


def write_csv(path: Path, table: dict | pd.DataFrame, sep: str = ",") -> Path:
    pd.DataFrame(table).to_csv(path, index=False, sep=sep)
    return path


def mixed_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Numeric, categorical and constant columns with a few gaps, and a two-class label."""
    rng = np.random.default_rng(seed)
    age = rng.normal(50, 10, n).round(1)
    age[[3, 7]] = np.nan
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[5] = None
    return pd.DataFrame({"age": age, "colour": colour, "height": rng.normal(170, 8, n),
                         "constant": np.ones(n), "diagnosis": np.where(np.arange(n) % 3 == 0, "sick", "well")})


def png_bytes(value: int, size=(8, 8), mode: str = "L") -> bytes:
    from PIL import Image
    colour = value if mode == "L" else (value, 255 - value, 0)
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def class_folder_zip(path: Path, per_class: int = 5, classes=("cats", "dogs"), mode: str = "L") -> Path:
    files = {f"pets/{c}/{i}.png": png_bytes(40 * k + i, mode=mode)
             for k, c in enumerate(classes) for i in range(per_class)}
    return write_zip(path, files)
