"""CSV/TSV tables: label by name, one-hot text, standardised numbers, gaps filled and reported."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from data_builders import config, mixed_table, write_csv

from orca_engine.data import encode_inputs, encode_labelled, load_dataset
from orca_engine.errors import DataError


@pytest.fixture
def mixed(tmp_path):
    table = mixed_table()
    return table, load_dataset(config(write_csv(tmp_path / "clinic.csv", table), label_column="diagnosis"), seed=0)


def test_columns_become_standardised_numbers_and_one_hot_categories(mixed):
    _, ds = mixed
    assert ds.feature_names == ["age", "colour=blue", "colour=green", "colour=red", "colour=(missing)", "height"]
    assert ds.x_train.shape == (len(ds.x_train), 6) and ds.x_train.dtype == np.float32
    numeric = ds.x_train[:, [0, 5]]
    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(numeric.std(axis=0), 1.0, atol=1e-5)
    one_hot = np.concatenate([ds.x_train, ds.x_val, ds.x_test])[:, 1:5]
    np.testing.assert_array_equal(one_hot.sum(axis=1), 1.0)


def test_labels_are_class_ids_with_names_kept(mixed):
    _, ds = mixed
    assert ds.task == "classification" and ds.class_names == ["sick", "well"]
    assert ds.y_train.dtype == np.int64 and set(ds.y_train.tolist()) == {0, 1}


def test_report_names_filled_gaps_and_dropped_columns(mixed):
    _, ds = mixed
    report = json.loads(json.dumps(ds.report))
    assert report["missing"]["values_filled"] == {"age": 2, "colour": 1}
    assert "constant" in report["dropped_columns"]
    assert any("task inferred as classification" in n for n in report["notes"])
    assert sum(report["class_counts"]["test"].values()) == len(ds.x_test)


def test_rows_without_label_are_dropped_and_counted(tmp_path):
    table = mixed_table()
    table.loc[[0, 1, 2], "diagnosis"] = None
    ds = load_dataset(config(write_csv(tmp_path / "t.csv", table), label_column="diagnosis"), seed=0)
    assert ds.report["missing"]["label_rows_dropped"] == 3
    assert ds.report["n_samples"] == len(table) - 3


def test_encode_inputs_without_label_column_reproduces_training(tmp_path, mixed):
    table, ds = mixed
    new = tmp_path / "new.csv"
    write_csv(new, table.drop(columns=["diagnosis", "constant"]))  # dropped columns are not needed either
    encoded = encode_inputs(new, json.loads(json.dumps(ds.spec)))  # the spec survives a JSON round trip
    everything = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    assert encoded.shape == (len(table), everything.shape[1]) and encoded.dtype == np.float32
    for row in ds.x_test:  # every test row is encoded identically from the new file
        assert np.isclose(encoded, row, atol=1e-6).all(axis=1).any()


def test_encode_inputs_names_missing_columns(mixed):
    table, ds = mixed
    with pytest.raises(DataError, match="'height' not found; the model was trained on: age, colour, height"):
        encode_inputs(table.drop(columns=["height"]), ds.spec)


def test_unseen_category_encodes_as_zeros(mixed):
    table, ds = mixed
    row = table.head(1).assign(colour="purple")
    assert encode_inputs(row, ds.spec)[0, 1:5].sum() == 0.0


def test_tsv_numeric_labels_and_regression(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    table["price"] = 3 * table["a"] + rng.normal(size=80)
    ds = load_dataset(config(write_csv(tmp_path / "p.tsv", table, sep="\t")), seed=0)  # default label: last
    assert ds.task == "regression" and ds.y_train.dtype == np.float32 and ds.output_shape == ()
    assert ds.spec["target_mean"] == pytest.approx(float(ds.y_train.mean()), rel=1e-5)


def test_whole_number_labels_infer_classification_and_task_override_wins(tmp_path):
    table = pd.DataFrame({"a": np.arange(90.0), "grade": np.arange(90) % 3 + 1})
    path = write_csv(tmp_path / "g.csv", table)
    assert load_dataset(config(path), seed=0).class_names == ["1", "2", "3"]
    assert load_dataset(config(path, task="regression"), seed=0).task == "regression"


def test_numbers_stored_as_text_are_numeric(tmp_path):
    table = pd.DataFrame({"a": [str(v) for v in range(40)], "y": np.arange(40) % 2})
    table.loc[3, "a"] = ""
    ds = load_dataset(config(write_csv(tmp_path / "n.csv", table)), seed=0)
    assert ds.feature_names == ["a"]


def test_high_cardinality_text_column_is_dropped_with_a_note(tmp_path):
    table = mixed_table(n=120).assign(patient_id=[f"p{i}" for i in range(120)])
    ds = load_dataset(config(write_csv(tmp_path / "ids.csv", table), label_column="diagnosis"), seed=0)
    assert "patient_id" in ds.report["dropped_columns"]
    assert not any(n.startswith("patient_id") for n in ds.feature_names)


def test_txt_table_separator_is_sniffed(tmp_path):
    table = mixed_table()
    path = write_csv(tmp_path / "t.txt", table, sep=";")
    ds = load_dataset(config(path, label_column="diagnosis"), seed=0)
    assert ds.feature_names[0] == "age" and len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == len(table)


def test_encode_labelled_scores_a_new_labelled_table(tmp_path, mixed):
    table, ds = mixed
    x, y = encode_labelled(write_csv(tmp_path / "more.csv", table.head(10)), ds.spec)
    assert x.shape == (10, len(ds.feature_names))
    np.testing.assert_array_equal(y, (table["diagnosis"].head(10) == "well").astype(np.int64))
    with pytest.raises(DataError, match="'maybe' were not classes in training; the model knows: sick, well"):
        encode_labelled(table.head(3).assign(diagnosis="maybe"), ds.spec)
