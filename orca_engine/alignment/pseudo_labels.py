"""Pseudo-labels for targets without classes (regression, dense, multi-label): k-means cluster ids.

ORCA's `infer_labels` clusters the flattened targets with k-means (k = 10; mini-batch k-means above
10,000 samples) and uses the cluster ids as classes for the OTDD objective. Here the result is
deterministic for a seed, and clusters too small for an OT class (fewer than 2 samples) are merged
into their nearest cluster, so the labels always suit `make_objective`.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConfigError, DataError

MINIBATCH_ABOVE = 10_000  # as ORCA: full k-means up to this many samples, mini-batch k-means above


def pseudo_labels(targets: np.ndarray, k: int = 10, seed: int = 0) -> np.ndarray:
    """Cluster ids int64 (N,) in 0..k'-1 (k' <= k) for targets (N, ...), flattened per sample."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"pseudo-label k = {k!r} is not allowed; use a whole number >= 2")
    points = _as_points(targets)
    distinct = len(np.unique(points, axis=0))
    if distinct < k:
        warnings.warn(f"the targets have only {distinct} distinct values, fewer than k = {k}; "
                      f"using {distinct} clusters", RuntimeWarning, stacklevel=2)
        k = distinct
    if k < 2:
        raise DataError("every target is the same value, so there is nothing to cluster; check the targets")
    labels, centres = _kmeans(points, k, seed)
    return _merge_small_clusters(points, labels, centres)


def _as_points(targets: np.ndarray) -> np.ndarray:
    points = np.asarray(targets)
    if points.ndim == 0 or len(points) < 4:
        raise DataError(f"pseudo-labels need at least 4 target samples, got shape {points.shape}")
    points = points.reshape(len(points), -1)
    if not np.issubdtype(points.dtype, np.number) and points.dtype != bool:
        raise DataError(f"targets must be numeric to cluster, got dtype {points.dtype}")
    points = points.astype(np.float64)
    if not np.isfinite(points).all():
        raise DataError("targets contain NaN or inf; drop or impute those samples before pseudo-labelling")
    return points


def _kmeans(points: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import KMeans, MiniBatchKMeans  # lazy: sklearn is slow to import
    if len(points) <= MINIBATCH_ABOVE:
        model = KMeans(n_clusters=k, n_init=4, random_state=seed)
    else:
        model = MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=seed)
    labels = model.fit_predict(points)
    return labels.astype(np.int64), model.cluster_centers_


def _merge_small_clusters(points: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Move samples of clusters with fewer than 2 members to their nearest larger cluster; renumber 0..k'-1."""
    counts = np.bincount(labels, minlength=len(centres))
    large = np.flatnonzero(counts >= 2)
    small = np.isin(labels, np.flatnonzero(counts < 2))
    if small.any():
        gaps = ((points[small, None, :] - centres[None, large, :]) ** 2).sum(-1)
        labels = labels.copy()
        labels[small] = large[gaps.argmin(1)]
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)
