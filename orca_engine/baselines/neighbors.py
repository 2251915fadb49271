"""1-nearest-neighbour baselines: Euclidean on any input, dynamic time warping on sequences.

1-NN with Euclidean distance and 1-NN with DTW are the time-series field's reference points (the
UCR archive reports both for every set). A prediction is the training target of the nearest
training sample, so they work for every task: classes, regression targets, label sets, fields.

DTW comes from `dtaidistance` (C implementation, Meert et al.), with a Sakoe-Chiba window of
DTW_WINDOW of the series length; multichannel series use its dependent (`ndim`) variant.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..metrics import TASK_METRICS
from .result import BaselineResult

DTW_WINDOW = 0.1  # share of the series length a warping path may stray from the diagonal
DTW_CELLS_PER_S = 2e8  # measured order of magnitude of dtaidistance's C loop on one CPU core
EUCLID_CHUNK = 512  # query rows per distance block: bounded memory on large splits


def nearest_euclidean(train: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index into `train` (N, F) of each `query` (M, F) row's nearest neighbour, block by block."""
    train = train.astype(np.float64)
    sq_train = (train ** 2).sum(axis=1)
    out = np.empty(len(query), dtype=np.int64)
    for start in range(0, len(query), EUCLID_CHUNK):
        q = query[start:start + EUCLID_CHUNK].astype(np.float64)
        d = sq_train[None, :] - 2.0 * q @ train.T  # ||q||^2 is the same for every candidate
        out[start:start + len(q)] = d.argmin(axis=1)
    return out


def dtw_window(length: int) -> int:
    return max(1, math.ceil(DTW_WINDOW * length))


def nearest_dtw(train: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index into `train` (N, C, L) of each `query` (M, C, L) series' nearest neighbour under DTW."""
    from dtaidistance import dtw, dtw_ndim
    n, channels, length = train.shape
    window = dtw_window(length)
    if channels == 1:
        series = [np.ascontiguousarray(s[0], dtype=np.double) for s in (*train, *query)]
        dist = dtw.distance_matrix_fast(series, block=((0, n), (n, n + len(query))), window=window, compact=False)
    else:  # dependent DTW: one warping path for all channels, series as (L, C)
        series = [np.ascontiguousarray(s.T, dtype=np.double) for s in (*train, *query)]
        dist = dtw_ndim.distance_matrix_fast(series, ndim=channels, block=((0, n), (n, n + len(query))),
                                             window=window, compact=False)
    block = np.asarray(dist)[:n, n:]  # (N, M): rows train, columns query; the rest is inf
    return block.argmin(axis=0)


def dtw_seconds(dataset) -> float:
    """Estimated cost of 1-NN DTW on the validation and test splits."""
    n, channels, length = dataset.x_train.shape
    queries = len(dataset.x_val) + len(dataset.x_test)
    return n * queries * length * (2 * dtw_window(length) + 1) * channels / DTW_CELLS_PER_S


def one_nn(dataset, metric: str, seed: int = 0) -> BaselineResult:
    """1-NN with `metric` "euclidean" (inputs flattened) or "dtw" (sequences): fit on train, scored
    on validation and, once, on test."""
    started = time.perf_counter()
    nearest = nearest_dtw if metric == "dtw" else (lambda a, b: nearest_euclidean(_flat(a), _flat(b)))
    scores = {}
    for split in ("val", "test"):
        x, y = dataset.split(split)
        picked = nearest(dataset.x_train, x) if len(x) else np.zeros(0, dtype=np.int64)
        scores[split] = _score(dataset, np.asarray(dataset.y_train)[picked], y)
    name = "1-NN DTW" if metric == "dtw" else "1-NN Euclidean"
    return BaselineResult(name, "window" if metric == "dtw" else "", DTW_WINDOW if metric == "dtw" else 0.0,
                          scores["val"], scores["test"], {}, time.perf_counter() - started, len(dataset.x_train))


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).reshape(len(x), -1)


def _score(dataset, predicted: np.ndarray, y_true: np.ndarray) -> dict[str, float]:
    """Metrics of copied training targets, in the form TASK_METRICS expects (logits for classes)."""
    task = dataset.task
    if len(y_true) == 0:
        return {}
    if task == "classification":
        outputs = np.full((len(predicted), dataset.num_outputs), -30.0)
        outputs[np.arange(len(predicted)), predicted.astype(np.int64)] = 0.0
    elif task == "multilabel":
        outputs = np.where(np.asarray(predicted) > 0.5, 30.0, -30.0)
    else:
        outputs = predicted
    return TASK_METRICS.get(task).compute(y_true, outputs)
