"""NumPy arrays: layouts become (N, C, L) / (N, C, H, W), tasks are inferred, file splits are kept."""
from __future__ import annotations

import numpy as np
import pytest
from data_builders import config

from orca_engine.data import encode_inputs, encode_labelled, load_dataset
from orca_engine.data.tasks import infer_task
from orca_engine.errors import DataError

RNG = np.random.default_rng(0)


def _npz(tmp_path, name="d.npz", **arrays):
    np.savez(tmp_path / name, **arrays)
    return tmp_path / name


# (file sample shape, modality override, expected modality, expected per-sample input shape)
LAYOUTS = [
    ((32,), "auto", "sequence", (1, 32)),
    ((32,), "tabular", "tabular", (32,)),
    ((3, 50), "auto", "sequence", (3, 50)),
    ((12, 12), "auto", "image", (1, 12, 12)),
    ((12, 12), "sequence", "sequence", (12, 12)),
    ((3, 10, 10), "auto", "image", (3, 10, 10)),
    ((10, 10, 3), "auto", "image", (3, 10, 10)),  # channels last
]


@pytest.mark.parametrize("sample_shape, modality, expected, input_shape", LAYOUTS)
def test_layouts(tmp_path, sample_shape, modality, expected, input_shape):
    x = RNG.normal(size=(40, *sample_shape))
    ds = load_dataset(config(_npz(tmp_path, x=x, y=np.arange(40) % 2), modality=modality), seed=0)
    assert (ds.modality, ds.input_shape) == (expected, input_shape)
    assert ds.x_train.dtype == np.float32


def test_channels_last_images_keep_their_pixels(tmp_path):
    x = RNG.integers(0, 255, size=(40, 9, 9, 3)).astype(np.uint8)
    ds = load_dataset(config(_npz(tmp_path, x=x, y=np.arange(40) % 2)), seed=0)
    raw = np.moveaxis(ds.preview(5)["x"], 1, -1).round()  # de-standardised (5, 3, 9, 9) -> (5, 9, 9, 3)
    for sample in raw:
        assert (x == sample).all(axis=(1, 2, 3)).any()


def test_ready_made_splits_are_respected(tmp_path):
    x_train, x_val, x_test = (RNG.normal(size=(n, 16)) for n in (50, 12, 20))
    y_train, y_val, y_test = (np.arange(n) % 2 for n in (50, 12, 20))
    path = _npz(tmp_path, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)
    ds = load_dataset(config(path), seed=7)
    assert ds.report["splits"] == {"train": 50, "val": 12, "test": 20}
    scaling = ds.spec["input_scaling"]
    np.testing.assert_allclose(ds.x_test[:, 0] * scaling["std"][0] + scaling["mean"][0], x_test, atol=1e-5)
    np.testing.assert_array_equal(ds.y_val, y_val)


def test_missing_validation_split_is_carved_from_train(tmp_path):
    path = _npz(tmp_path, x_train=RNG.normal(size=(60, 16)), y_train=np.arange(60) % 3,
                x_test=RNG.normal(size=(20, 16)), y_test=np.arange(20) % 3)
    ds = load_dataset(config(path, val_fraction=0.2), seed=0)
    assert ds.report["splits"] == {"train": 48, "val": 12, "test": 20}
    assert any("no val split in the file" in n for n in ds.report["notes"])


@pytest.mark.parametrize("y_shape, expected_task, output_shape", [
    ((40,), "regression", ()),
    ((40, 3), "regression", (3,)),
    ((40, 32), "dense", (1, 32)),
    ((40, 2, 32), "dense", (2, 32)),
    ((40, 32, 2), "dense", (2, 32)),  # channels last
])
def test_numeric_targets_pick_the_task(tmp_path, y_shape, expected_task, output_shape):
    ds = load_dataset(config(_npz(tmp_path, x=RNG.normal(size=(40, 32)), y=RNG.normal(size=y_shape))), seed=0)
    assert (ds.task, ds.output_shape) == (expected_task, output_shape)
    assert ds.y_train.dtype == np.float32


def test_zero_one_matrix_is_multilabel(tmp_path):
    y = (RNG.random((40, 4)) < 0.5).astype(np.int64)
    ds = load_dataset(config(_npz(tmp_path, x=RNG.normal(size=(40, 20)), y=y)), seed=0)
    assert (ds.task, ds.num_outputs, ds.y_train.dtype) == ("multilabel", 4, np.float32)


@pytest.mark.parametrize("y, grid, task", [
    (np.array(["a", "b"] * 10), None, "classification"),
    (np.arange(100) % 7, None, "classification"),
    (np.arange(100.0), None, "regression"),  # 100 distinct whole numbers: a quantity, not classes
    (np.linspace(0, 1, 100), None, "regression"),
    (np.zeros((10, 5, 5)), (5, 5), "dense"),
    ((np.arange(30).reshape(10, 3) % 2), None, "multilabel"),
])
def test_infer_task_rules(y, grid, task):
    assert infer_task(y, grid)[0] == task


def test_encode_inputs_accepts_npy_and_single_samples(tmp_path):
    x = RNG.normal(size=(40, 3, 50))
    ds = load_dataset(config(_npz(tmp_path, x=x, y=np.arange(40) % 2)), seed=0)
    np.save(tmp_path / "new.npy", x[:5])
    from_file = encode_inputs(tmp_path / "new.npy", ds.spec)
    one = encode_inputs(x[0], ds.spec)
    assert from_file.shape == (5, 3, 50) and one.shape == (1, 3, 50)
    np.testing.assert_allclose(from_file[0], one[0])
    mean, std = np.asarray(ds.spec["input_scaling"]["mean"]), np.asarray(ds.spec["input_scaling"]["std"])
    np.testing.assert_allclose(one[0], (x[0] - mean[:, None]) / std[:, None], atol=1e-5)


def test_encode_inputs_rejects_a_different_shape(tmp_path):
    ds = load_dataset(config(_npz(tmp_path, x=RNG.normal(size=(40, 32)), y=np.arange(40) % 2)), seed=0)
    with pytest.raises(DataError, match=r"samples of shape \(31,\) but the model was trained on \(32,\)"):
        encode_inputs(RNG.normal(size=(3, 31)), ds.spec)


def test_encode_labelled_reads_dense_targets_in_the_training_layout(tmp_path):
    x, y = RNG.normal(size=(40, 32)), RNG.normal(size=(40, 32, 2))  # channels-last dense targets
    ds = load_dataset(config(_npz(tmp_path, x=x, y=y)), seed=0)
    x_new, y_new = encode_labelled(_npz(tmp_path, "new.npz", x_test=x[:4], y_test=y[:4]), ds.spec)
    assert x_new.shape == (4, 1, 32) and y_new.shape == (4, 2, 32)
    np.testing.assert_allclose(y_new, np.moveaxis(y[:4], -1, 1), atol=1e-6)
