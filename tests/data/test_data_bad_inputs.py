"""Every failure a user can cause: the error type AND a fragment that names the problem or the fix."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_builders import class_folder_zip, config, mixed_table, png_bytes, write_csv, write_zip

from orca_engine.errors import DataError
from orca_engine.data import load_dataset


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _labels(n: int, k: int = 2) -> np.ndarray:
    return np.arange(n) % k


def _object_npz(p: Path) -> Path:
    ragged = np.empty(20, dtype=object)
    ragged[:] = [np.zeros(3 + i % 2) for i in range(20)]
    np.savez(p / "d.npz", x=ragged, y=_labels(20))  # savez pickles object arrays
    return p / "d.npz"


def _nan_npz(p: Path) -> Path:
    x = np.random.default_rng(0).normal(size=(30, 16))
    x[4, 2] = np.nan
    return _npz(p / "d.npz", x=x, y=_labels(30))


def _few_in_class_npz(p: Path) -> Path:
    y = np.array([0] * 20 + [1] * 20 + [2] * 2)
    return _npz(p / "d.npz", x=np.ones((42, 16)) * np.arange(16), y=y)


def _free_text_csv(p: Path) -> Path:
    return write_csv(p / "d.csv", {"comment": [f"note number {i}" for i in range(80)], "y": _labels(80)})


def _inf_csv(p: Path) -> Path:
    table = mixed_table()
    table.loc[4, "height"] = np.inf
    return write_csv(p / "d.csv", table)


# (case id, build(tmp_path) -> source, DataConfig overrides, error type, message fragment)
CASES = [
    ("unknown example", lambda p: "no-such-example", {}, DataError, "neither an example nor a supported file"),
    ("unknown file type", lambda p: _text(p / "d.xlsx", "x"), {}, DataError, "give a path ending in .csv, .tsv, .txt, .npz"),
    ("missing file", lambda p: p / "absent.csv", {}, DataError, "file not found"),
    ("a folder", lambda p: p, {}, DataError, "is a folder without .npy files"),
    ("empty csv", lambda p: _text(p / "d.csv", ""), {}, DataError, "is empty"),
    ("header only", lambda p: _text(p / "d.csv", "a,b,label\n"), {}, DataError, "no data rows"),
    ("binary garbage csv", lambda p: (p / "d.csv").write_bytes(b"\xff\xfe\x00\x81" * 50) and p / "d.csv", {},
     DataError, "re-save it as UTF-8"),
    ("unknown label column", lambda p: write_csv(p / "d.csv", mixed_table()), {"label_column": "outcome"},
     DataError, "label column 'outcome' not found; columns are: age, colour, height, constant, diagnosis"),
    ("wrong separator", lambda p: write_csv(p / "d.csv", mixed_table(), sep="\t"), {}, DataError,
     "check the separator"),
    ("label column empty", lambda p: write_csv(p / "d.csv", {"a": [1.0, 2.0], "y": [None, None]}), {},
     DataError, "is empty in every row"),
    ("features cannot be encoded", _free_text_csv, {}, DataError, "no usable feature columns"),
    ("infinite value in csv", _inf_csv, {"label_column": "diagnosis"}, DataError,
     "column 'height' has 1 infinite values (data row 5)"),
    ("csv cannot be multilabel", lambda p: write_csv(p / "d.csv", mixed_table()), {"task": "multilabel"},
     DataError, "not possible for this kind of file"),
    ("csv is not a sequence", lambda p: write_csv(p / "d.csv", mixed_table()), {"modality": "sequence"},
     DataError, "read as tabular data"),
    ("text labels for regression", lambda p: write_csv(p / "d.csv", mixed_table()), {"task": "regression"},
     DataError, "needs numeric targets"),
    ("single class", lambda p: write_csv(p / "d.csv", {"a": np.arange(30.0), "y": ["yes"] * 30}), {},
     DataError, "only one class ('yes')"),
    ("too few in a class", _few_in_class_npz, {}, DataError, "'2' has 2; each class needs at least 4"),
    ("nan in arrays", _nan_npz, {}, DataError, "1 NaN or infinite values (first in sample 4)"),
    ("pickled object array", _object_npz, {}, DataError, "holds Python objects"),
    ("text inputs", lambda p: _npz(p / "d.npz", x=np.array([["a"] * 8] * 20), y=_labels(20)), {}, DataError,
     "must hold numbers"),
    ("x/y length mismatch", lambda p: _npz(p / "d.npz", x=np.zeros((30, 16)), y=_labels(29)), {}, DataError,
     "x has 30 samples but y has 29"),
    ("split lengths mismatch", lambda p: _npz(p / "d.npz", x_train=np.zeros((30, 16)), y_train=_labels(30),
                                              x_test=np.zeros((10, 16)), y_test=_labels(9)), {},
     DataError, "x_test has 10 samples but y_test has 9"),
    ("split without partner", lambda p: _npz(p / "d.npz", x_train=np.zeros((30, 16)), y_train=_labels(30),
                                             x_test=np.zeros((10, 16))), {}, DataError, "without its partner"),
    ("splits without train", lambda p: _npz(p / "d.npz", x_test=np.zeros((10, 16)), y_test=_labels(10)), {},
     DataError, "no x_train / y_train"),
    ("no labels in npz", lambda p: _npz(p / "d.npz", x=np.zeros((30, 16))), {}, DataError, "has no labels 'y'"),
    ("npy without labels", lambda p: np.save(p / "d.npy", np.zeros((30, 16))) or p / "d.npy", {}, DataError,
     "np.savez('data.npz', x=x, y=y)"),
    ("corrupt npz", lambda p: _text(p / "d.npz", "not a zip"), {}, DataError, "cannot read d.npz"),
    ("5-d samples", lambda p: _npz(p / "d.npz", x=np.zeros((20, 2, 3, 4, 5)), y=_labels(20)), {}, DataError,
     "fit no embedder"),
    ("sequence too short", lambda p: _npz(p / "d.npz", x=np.zeros((20, 1)), y=_labels(20)), {}, DataError,
     "sequence length 1 is too small"),
    ("1-d samples as images", lambda p: _npz(p / "d.npz", x=np.zeros((20, 16)), y=_labels(20)),
     {"modality": "image"}, DataError, "1-D, not images"),
    ("dense targets off the grid", lambda p: _npz(p / "d.npz", x=np.zeros((20, 16)), y=np.zeros((20, 15))),
     {"task": "dense"}, DataError, "must cover the input grid"),
    ("more than max_samples", lambda p: _npz(p / "d.npz", x=np.zeros((30, 16)), y=_labels(30)),
     {"max_samples": 20}, DataError, "more than data.max_samples = 20"),
    ("zip: loose images", lambda p: write_zip(p / "d.zip", {"a.png": png_bytes(0), "b.png": png_bytes(9)}), {},
     DataError, "not in a class folder"),
    ("zip: one class", lambda p: class_folder_zip(p / "d.zip", classes=("cats",)), {}, DataError,
     "at least two classes"),
    ("zip: no images", lambda p: write_zip(p / "d.zip", {"notes/readme.txt": b"hi"}), {}, DataError,
     "holds no .png/.jpg/.jpeg images"),
    ("zip: corrupt image", lambda p: write_zip(p / "d.zip", {"a/1.png": png_bytes(0), "b/2.png": b"broken"}),
     {}, DataError, "cannot decode image 'b/2.png': not PNG or JPEG"),
    ("zip: not a zip", lambda p: _text(p / "d.zip", "plain text"), {}, DataError, "cannot open d.zip"),
    ("zip: regression", lambda p: class_folder_zip(p / "d.zip"), {"task": "regression"}, DataError,
     "is a classification dataset"),
]


@pytest.mark.parametrize("build, overrides, error, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_typed_error_naming_problem(tmp_path, build, overrides, error, fragment):
    source = build(tmp_path)
    with pytest.raises(error) as caught:
        load_dataset(config(source, **overrides), seed=0)
    assert fragment in str(caught.value)
