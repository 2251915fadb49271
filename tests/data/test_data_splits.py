"""Splits: seeded, disjoint, stratified; train_fraction thins only the training split."""
from __future__ import annotations

import numpy as np
import pytest

from orca_engine.config import DataConfig
from orca_engine.data import load_dataset
from orca_engine.data.dataset import (MIN_TRAIN_PER_CLASS, class_split_counts, min_samples_per_group, random_splits,
                                      subsample_train)
from orca_engine.errors import ConfigError, DataError

IMBALANCED = np.repeat([0, 1, 2], [200, 50, 7])


def _all(splits):
    return np.concatenate([splits.train, splits.val, splits.test])


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = (random_splits(257, 0.15, 0.2, seed, IMBALANCED) for seed in (1, 1, 2))
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test, c.test)


@pytest.mark.parametrize("strata", [None, IMBALANCED], ids=["random", "stratified"])
def test_splits_are_disjoint_and_cover_everything(strata):
    splits = random_splits(257, 0.15, 0.2, 0, strata)
    everything = _all(splits)
    assert len(everything) == len(set(everything.tolist())) == 257


def test_stratified_splits_keep_class_shares():
    splits = random_splits(257, 0.15, 0.2, 0, IMBALANCED)
    overall = np.bincount(IMBALANCED) / len(IMBALANCED)
    for idx in (splits.train, splits.val, splits.test):
        counts = np.bincount(IMBALANCED[idx], minlength=3)
        assert counts.min() >= 1, "every class must reach every split"
        np.testing.assert_allclose(counts / counts.sum(), overall, atol=0.03)


def test_split_sizes_follow_the_fractions():
    sizes = random_splits(1000, 0.15, 0.2, 0).sizes()
    assert sizes == {"train": 650, "val": 150, "test": 200}


def test_minimum_per_class_is_what_the_split_rule_needs():
    need = min_samples_per_group(0.15, 0.2, MIN_TRAIN_PER_CLASS)
    assert class_split_counts(need, 0.15, 0.2)[0] >= MIN_TRAIN_PER_CLASS
    assert class_split_counts(need - 1, 0.15, 0.2)[0] < MIN_TRAIN_PER_CLASS
    strata = np.array([0] * 50 + [1] * (need - 1))
    with pytest.raises(DataError, match=f"'rare' has {need - 1}; each class needs at least {need}"):
        random_splits(len(strata), 0.15, 0.2, 0, strata, ["common", "rare"])


def test_train_fraction_thins_only_training_and_keeps_every_class():
    splits = random_splits(257, 0.15, 0.2, 0, IMBALANCED)
    thin = subsample_train(splits, 0.1, 0, IMBALANCED)
    np.testing.assert_array_equal(thin.val, splits.val)
    np.testing.assert_array_equal(thin.test, splits.test)
    assert set(thin.train.tolist()) < set(splits.train.tolist())
    assert len(thin.train) == pytest.approx(0.1 * len(splits.train), abs=3)
    assert set(IMBALANCED[thin.train].tolist()) == {0, 1, 2}


def test_load_dataset_train_fraction_leaves_val_and_test_alone():
    full = load_dataset(DataConfig(source="synthetic-signals"), seed=5)
    thin = load_dataset(DataConfig(source="synthetic-signals", train_fraction=0.25), seed=5)
    for split in ("val", "test"):  # the same samples (scaling is refitted on the thinner training split)
        np.testing.assert_array_equal(full.split(split)[1], thin.split(split)[1])
        np.testing.assert_allclose(_raw(full, split), _raw(thin, split), atol=1e-4)
    assert len(thin.x_train) == pytest.approx(0.25 * len(full.x_train), abs=4)
    assert thin.report["splits"]["train"] == len(thin.x_train)


def _raw(ds, split):
    scaling = ds.spec["input_scaling"]
    return ds.split(split)[0] * np.float32(scaling["std"][0]) + np.float32(scaling["mean"][0])


def test_load_dataset_is_seeded_and_disjoint():
    a = load_dataset(DataConfig(source="wine"), seed=3)
    b = load_dataset(DataConfig(source="wine"), seed=3)
    c = load_dataset(DataConfig(source="wine"), seed=4)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    rows = lambda x: {tuple(r) for r in x.round(5).tolist()}  # noqa: E731 - wine rows are unique
    assert not rows(a.x_train) & rows(a.x_test) and not rows(a.x_val) & rows(a.x_test)


def test_fractions_leaving_no_training_data_are_refused():
    with pytest.raises(ConfigError, match="leaves nothing to train on"):
        random_splits(100, 0.5, 0.5, 0)
