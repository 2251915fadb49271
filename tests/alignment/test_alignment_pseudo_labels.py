"""k-means pseudo-labels: deterministic for a seed, k classes, every class usable by the objective."""
import numpy as np
import pytest

from orca_engine.alignment import pseudo_labels
from orca_engine.errors import ConfigError, DataError


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 3)) * 10
    return np.concatenate([c + rng.normal(size=(25, 3)) for c in centres])


def test_deterministic_for_a_seed_and_int64():
    targets = blobs()
    a, b = pseudo_labels(targets, k=4, seed=3), pseudo_labels(targets, k=4, seed=3)
    assert a.dtype == np.int64 and a.shape == (100,)
    np.testing.assert_array_equal(a, b)


def test_recovers_separated_clusters_from_dense_targets():
    targets = blobs().reshape(100, 3, 1, 1)  # (N, C, H, W) dense targets flatten per sample
    labels = pseudo_labels(targets, k=4)
    truth = np.repeat(np.arange(4), 25)
    assert len(np.unique(labels)) == 4
    for c in range(4):
        assert len(np.unique(labels[truth == c])) == 1


def test_singleton_clusters_are_merged():
    targets = np.concatenate([blobs()[:50], [[1e3, 1e3, 1e3]]])  # one far outlier
    labels = pseudo_labels(targets, k=3)
    assert np.bincount(labels).min() >= 2
    assert set(np.unique(labels)) == set(range(labels.max() + 1))


def test_fewer_distinct_values_than_k_warns_and_uses_them():
    targets = np.repeat([[0.0], [1.0], [5.0]], 10, axis=0)
    with pytest.warns(RuntimeWarning, match="3 distinct"):
        labels = pseudo_labels(targets, k=10)
    assert len(np.unique(labels)) == 3


@pytest.mark.parametrize("targets, k, error", [
    (np.array([[np.nan]] * 10), 2, DataError), (np.zeros((10, 2)), 2, DataError),
    (np.arange(10.0), 1, ConfigError), (np.arange(2.0), 2, DataError),
])
def test_bad_inputs(targets, k, error):
    with pytest.raises(error):
        pseudo_labels(targets, k=k)
