"""Class-balanced, seed-deterministic subsampling shared by every source proxy."""
from __future__ import annotations

import numpy as np

from ..errors import DataError


def balanced_indices(labels: np.ndarray, n: int, seed: int, num_classes: int) -> np.ndarray:
    """Indices of `n` samples spread as evenly as possible over classes `0..num_classes-1`.

    Each class gets `n // num_classes` samples and the first `n % num_classes` classes one more,
    drawn without replacement; the result is shuffled so batches mix classes. Same `(labels, n,
    seed)` -> same indices.

    labels: (N,) int, class ids in `0..num_classes-1` (other ids are ignored).
    Returns (n,) int64.
    """
    if n < num_classes:
        raise DataError(f"source proxy needs at least one sample per class: n = {n} < {num_classes} classes; "
                        f"raise align.source_samples")
    rng = np.random.default_rng(seed)
    per_class = np.full(num_classes, n // num_classes)
    per_class[: n % num_classes] += 1
    chosen = [_draw_class(labels, c, int(k), rng) for c, k in enumerate(per_class)]
    picked = np.concatenate(chosen).astype(np.int64)
    return picked[rng.permutation(len(picked))]


def _draw_class(labels: np.ndarray, cls: int, k: int, rng: np.random.Generator) -> np.ndarray:
    members = np.flatnonzero(labels == cls)
    if len(members) < k:
        raise DataError(f"source class {cls} has only {len(members)} samples but {k} are needed; "
                        f"lower align.source_samples")
    return rng.choice(members, size=k, replace=False)
