"""The fixed sample of points a run projects, and the PCA basis its frames share.

The basis is fitted once and reused, so the axes mean the same thing in every frame and motion
between frames is real motion along those two directions (~1 ms a frame).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sample_indices(n: int, max_points: int, seed: int) -> np.ndarray:
    """Indices (min(n, max_points),) of a fixed random sample, sorted; reuse them every frame."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


@dataclass(frozen=True)
class PcaBasis:
    """Affine map to 2-D: `xy = (x - mean) @ components`; mean (d,), components (d, 2)."""
    mean: np.ndarray
    components: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, 2)."""
        return (points - self.mean) @ self.components


def fit_pca_basis(points: np.ndarray) -> PcaBasis:
    """Top-2 principal directions of `points` (n, d), signs fixed so refits give the same picture.

    Eigenvectors of the smaller Gram matrix: Xc^T Xc (d, d) when d <= n, else Xc Xc^T (n, n)
    mapped back by v = Xc^T u / sqrt(lambda). LAPACK runs on one thread: on a busy two-core
    machine a multi-threaded eigh of a 384 x 384 matrix took 0.3-3 s against 20 ms on one thread,
    and the projection must not take the training thread's cores. (threadpoolctl's limit is
    process-wide for those ~20 ms.) Each direction's sign makes its largest-magnitude loading
    positive (eigenvector signs are arbitrary).
    """
    from threadpoolctl import threadpool_limits  # lazy: ships with scikit-learn

    mean = points.mean(axis=0)
    centred = points - mean  # (n, d)
    n, d = centred.shape
    with threadpool_limits(limits=1, user_api="blas"):
        if d <= n:
            values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending
        else:
            values, u = np.linalg.eigh(centred @ centred.T)
            vectors = centred.T @ u / np.sqrt(np.maximum(values, 1e-12))
    components = vectors[:, ::-1][:, :2]  # (d, k), largest variance first, k = min(2, n, d)
    components = np.pad(components, ((0, 0), (0, 2 - components.shape[1])))  # (d, 2)
    largest = np.abs(components).argmax(axis=0)
    signs = np.sign(components[largest, [0, 1]])
    components = components * np.where(signs == 0, 1.0, signs)
    return PcaBasis(mean=mean, components=components)
