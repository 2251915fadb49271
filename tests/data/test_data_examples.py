"""Every registered example loads with the engine's shape and dtype conventions, and a JSON-able spec."""
from __future__ import annotations

import json

import numpy as np
import pytest

from orca_engine.config import DataConfig
from orca_engine.data import EXAMPLES, encode_inputs, load_dataset, target_stats

Y_DTYPES = {"classification": np.int64, "regression": np.float32, "multilabel": np.float32, "dense": np.float32}
INPUT_RANK = {"tabular": 1, "sequence": 2, "image": 3}


@pytest.fixture(scope="module", params=EXAMPLES.names())
def example(request):
    spec = EXAMPLES.get(request.param)
    return spec, load_dataset(DataConfig(source=spec.name), seed=0)


def test_example_matches_its_record_and_conventions(example):
    spec, ds = example
    assert (ds.modality, ds.task) == (spec.modality, spec.task)
    assert len(ds.input_shape) == INPUT_RANK[ds.modality]
    for split in ("train", "val", "test"):
        x, y = ds.split(split)
        assert x.dtype == np.float32 and x.shape[1:] == ds.input_shape and np.isfinite(x).all()
        assert y.dtype == Y_DTYPES[ds.task] and y.shape == (len(x), *ds.output_shape)


def test_example_targets_fit_num_outputs(example):
    _, ds = example
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    if ds.task == "classification":
        assert ds.output_shape == () and set(np.unique(y)) == set(range(ds.num_outputs))
        assert len(ds.class_names) == ds.num_outputs
    elif ds.task == "multilabel":
        assert set(np.unique(y)) <= {0.0, 1.0} and ds.output_shape == (ds.num_outputs,)
    elif ds.task == "dense":
        assert ds.output_shape[1:] == ds.input_shape[1:] and ds.output_shape[0] == ds.num_outputs
    else:
        assert ds.num_outputs == int(np.prod(ds.output_shape))


def test_example_spec_and_report_are_json(example):
    _, ds = example
    spec = json.loads(json.dumps(ds.spec))
    report = json.loads(json.dumps(ds.report))
    assert spec["input_shape"] == list(ds.input_shape) and spec["task"] == ds.task
    assert report["splits"] == {"train": len(ds.x_train), "val": len(ds.x_val), "test": len(ds.x_test)}
    assert report["notes"], "the report must say what was inferred"


def test_example_preview_has_raw_samples(example):
    _, ds = example
    preview = ds.preview(3)
    assert len(preview["targets"]) == 3
    if ds.modality == "tabular":
        assert len(preview["rows"]) == 3 and set(preview["rows"][0]) == {c["name"] for c in ds.spec["columns"]}
    else:
        assert preview["x"].shape == (3, *ds.input_shape)


def test_inputs_are_standardised_on_the_training_split(example):
    _, ds = example
    axes = tuple(i for i in range(ds.x_train.ndim) if i != 1)
    np.testing.assert_allclose(ds.x_train.mean(axis=axes), 0.0, atol=1e-4)


def test_target_stats_broadcast_against_targets(example):
    _, ds = example
    stats = target_stats(ds.spec)
    if ds.task not in ("regression", "dense"):
        assert stats is None
        return
    mean, std = stats
    standardised = (ds.y_train - mean) / std
    np.testing.assert_allclose(standardised.mean(axis=0).mean(), 0.0, atol=1e-4)
    np.testing.assert_allclose(standardised.std(), 1.0, atol=0.05)


def test_digits_are_8x8_images_with_ten_classes():
    ds = load_dataset(DataConfig(source="digits"), seed=0)
    assert ds.input_shape == (1, 8, 8) and ds.num_outputs == 10 and ds.class_names == [str(i) for i in range(10)]
    assert 0.0 <= ds.preview(5)["x"].min() and ds.preview(5)["x"].max() <= 1.0 + 1e-5  # raw pixels in [0, 1]


def test_heat_target_is_a_smoothed_input():
    ds = load_dataset(DataConfig(source="heat-1d"), seed=0)
    mean, std = target_stats(ds.spec)
    x = ds.preview(50)["x"]  # raw initial fields
    y = ds.y_train[:50]
    roughness = lambda u: np.abs(np.diff(u, axis=-1)).mean()  # noqa: E731
    assert roughness(y) < 0.8 * roughness(x)
    np.testing.assert_allclose(x.mean(axis=-1), y.mean(axis=-1), atol=1e-4)  # diffusion conserves heat


def test_synthetic_examples_are_seeded():
    build = EXAMPLES.get("synthetic-signals").build
    np.testing.assert_array_equal(build(3).x, build(3).x)
    assert not np.array_equal(build(3).x, build(4).x)


def test_an_example_encodes_its_own_raw_data_like_training():
    ds = load_dataset(DataConfig(source="synthetic-signals"), seed=0)
    raw = EXAMPLES.get("synthetic-signals").build(0).x
    encoded = encode_inputs(raw, ds.spec)
    train_rows = [np.flatnonzero((encoded == row).all(axis=(1, 2)))[0] for row in ds.x_train[:5]]
    np.testing.assert_array_equal(encoded[train_rows], ds.x_train[:5])
