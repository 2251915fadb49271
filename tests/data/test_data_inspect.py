"""inspect_file: a quick look for the UI (columns, array shapes, class folders) before loading."""
from __future__ import annotations

import numpy as np
import pytest
from data_builders import class_folder_zip, mixed_table, write_csv

from orca_engine.data import inspect_file
from orca_engine.errors import DataError


def test_csv_columns_dtypes_and_label_guess(tmp_path):
    info = inspect_file(write_csv(tmp_path / "t.csv", mixed_table()))
    assert info["kind"] == "csv" and info["n_rows"] == 60
    columns = {c["name"]: c for c in info["columns"]}
    assert columns["age"]["missing"] == 2 and columns["colour"]["distinct"] == 3
    assert columns["height"]["dtype"].startswith("float")
    assert info["label_guess"] == "diagnosis" and info["task_guess"] == "classification"


def test_npz_shapes_from_headers_without_loading(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros(2), np.zeros(3)]
    np.savez(tmp_path / "a.npz", x_train=np.zeros((10, 28, 28), np.uint8), y_train=np.zeros(10), bad=ragged)
    info = inspect_file(tmp_path / "a.npz")
    assert info["arrays"]["x_train"] == {"shape": [10, 28, 28], "dtype": "uint8"}
    assert info["arrays"]["bad"]["dtype"] == "object"
    assert info["has_splits"] and info["modality_guess"] == "image"


def test_zip_lists_class_folders(tmp_path):
    info = inspect_file(class_folder_zip(tmp_path / "p.zip", per_class=3))
    assert info["classes"] == {"cats": 3, "dogs": 3} and info["n_images"] == 6


@pytest.mark.parametrize("name, fragment", [("a.parquet", "unsupported file type"), ("gone.csv", "file not found")])
def test_inspect_errors(tmp_path, name, fragment):
    if name.endswith(".parquet"):
        (tmp_path / name).write_text("x")
    with pytest.raises(DataError, match=fragment):
        inspect_file(tmp_path / name)
