"""UMAP layouts of one frame, warm-started from the previous one and snapped onto it.

`umap_layout` is what the UMAP child process runs (`umap_process`); `snap_to_previous` keeps a new
layout from spinning or flipping against the frame before it. umap-learn is imported only inside
`umap_layout`, so importing this module costs nothing.
"""
from __future__ import annotations

import numpy as np

# Warm-up data must exercise the same compiled paths as real frames: pynndescent builds its
# random-projection forest breadth-first above 1 MiB of rows and depth-first below, so a cloud
# of 1,200 x 512 float32 (2.4 MiB) compiles both; a tiny cloud would leave seconds of JIT
# for the first real frame.
_WARMUP_SHAPE = (1200, 512)


def compile_umap_here() -> None:
    """Compile umap-learn in the calling process by laying out a (1200, 512) cloud of 8 clusters
    (the UMAP process does this at start-up; seconds to a minute)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, _WARMUP_SHAPE[1]))
    points = centres[rng.integers(0, 8, _WARMUP_SHAPE[0])] + rng.normal(size=_WARMUP_SHAPE)
    points = points.astype(np.float32)
    umap_layout(points, init=points[:, :2].copy(), n_epochs=10, seed=0)


def umap_layout(points: np.ndarray, init: np.ndarray, n_epochs: int, seed: int,
                n_neighbors: int = 15, learning_rate: float = 1.0) -> np.ndarray:
    """UMAP coordinates (n, 2) of `points` (n, d), started from `init` (n, 2), in init's units.

    umap-learn rescales an init array to a 10-unit box per axis before optimising; the result is
    mapped back through the inverse of that rescale, so a warm-started frame differs from its
    init only by what the optimisation moved (the per-axis stretch alone shifted points by ~18%
    of the picture's radius). Always the approximate (NN-descent) neighbour path: at 2,000
    points it is ~15x faster than the exact one umap-learn picks below 4,096 points. `n_jobs=1`
    because a seeded UMAP is single-threaded anyway (and saying so avoids a warning per frame).
    """
    import umap  # lazy: importing umap costs seconds and starts numba

    init = np.asarray(init, dtype=np.float32)
    low, high = init.min(axis=0), init.max(axis=0)
    if np.any(high - low <= 0):  # a flat axis would make umap-learn divide by zero
        init = init + np.random.default_rng(seed).normal(scale=1e-3, size=init.shape)
        init = init.astype(np.float32)
        low, high = init.min(axis=0), init.max(axis=0)
    model = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(points) - 1),
                      n_epochs=n_epochs, init=init, learning_rate=learning_rate,
                      random_state=seed, n_jobs=1, force_approximation_algorithm=True)
    boxed = model.fit_transform(np.asarray(points, dtype=np.float32)).astype(np.float64)
    return boxed * (high - low) / 10.0 + low


def snap_to_previous(current: np.ndarray, previous: np.ndarray,
                     anchor: slice = slice(None)) -> np.ndarray:
    """Move a layout onto the previous one by the best rotation/reflection, scale and shift.

    Orthogonal Procrustes with scaling (Schoenemann 1966; Gower 1975) fitted on the anchor rows:
    with A = current[anchor] - mean_A and B = previous[anchor] - mean_B, (k, 2) each,
    U S V^T = svd(A^T B), R = U V^T, s = trace(S) / ||A||_F^2, and every row maps to
    s (x - mean_A) R + mean_B. current, previous: (n, 2). Returns (n, 2).
    """
    a, b = current[anchor], previous[anchor]
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    a_centred, b_centred = a - mean_a, b - mean_b
    u, s, vt = np.linalg.svd(a_centred.T @ b_centred)  # (2, 2)
    spread = float((a_centred ** 2).sum())
    if spread == 0.0:  # all anchors on one spot: only the shift is defined
        return current - mean_a + mean_b
    scale = s.sum() / spread
    return scale * (current - mean_a) @ (u @ vt) + mean_b
