"""Baselines beside every result: parity with reference maths, invariants, and the run's verdict."""
import numpy as np
import pytest

from orca_engine.baselines import BASELINES, best_baseline, run_baselines, verdict
from orca_engine.baselines.minirocket import MiniRocket, dilations_for
from orca_engine.baselines.neighbors import dtw_window, nearest_dtw, nearest_euclidean
from orca_engine.baselines.result import BaselineResult
from orca_engine.data.dataset import Dataset


def naive_dtw(a: np.ndarray, b: np.ndarray, window: int) -> float:
    """Textbook DTW (squared differences summed along the path, then the root), |i - j| < window."""
    n, m = len(a), len(b)
    cost = np.full((n + 1, m + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - window + 1), min(m, i + window - 1) + 1):
            d = (a[i - 1] - b[j - 1]) ** 2
            cost[i, j] = d + min(cost[i - 1, j], cost[i, j - 1], cost[i - 1, j - 1])
    return float(np.sqrt(cost[n, m]))


def test_dtw_nearest_neighbours_match_the_textbook_recursion():
    rng = np.random.default_rng(0)
    train, query = rng.normal(size=(6, 1, 30)), rng.normal(size=(4, 1, 30))
    w = dtw_window(30)
    expected = [int(np.argmin([naive_dtw(q[0], t[0], w) for t in train])) for q in query]
    assert nearest_dtw(train, query).tolist() == expected


def test_dtw_finds_a_shifted_copy_that_euclidean_misses():
    bump = np.exp(-((np.arange(60) - 20) / 1.5) ** 2)
    train = np.stack([bump, np.zeros(60)])[:, None]  # (2, 1, 60): the bump, and a flat line
    query = np.roll(bump, 4)[None, None]  # the same bump, 4 steps later
    assert nearest_dtw(train, query).tolist() == [0]
    assert nearest_euclidean(train.reshape(2, -1), query.reshape(1, -1)).tolist() == [1]


def test_euclidean_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(1)
    train, query = rng.normal(size=(50, 7)), rng.normal(size=(600, 7))
    brute = ((query[:, None] - train[None]) ** 2).sum(-1).argmin(1)
    assert (nearest_euclidean(train, query) == brute).all()


def test_minirocket_features_are_proportions_deterministic_and_about_ten_thousand():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 2, 100)).astype(np.float32)
    a = MiniRocket(seed=3).fit(x).transform(x[:5])
    b = MiniRocket(seed=3).fit(x).transform(x[:5])
    dilations, counts = dilations_for(100)
    assert a.shape == (5, 84 * counts.sum()) and 9_000 < a.shape[1] <= 10_000
    assert np.array_equal(a, b) and a.min() >= 0.0 and a.max() <= 1.0
    assert dilations[0] == 1 and dilations[-1] <= (100 - 1) // 8 + 1


def _signals(n_per_class: int, seed: int = 0) -> Dataset:
    """Two classes of noisy sines that differ in frequency only: linear on raw values is near chance."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 80)

    def make(n):
        y = np.repeat([0, 1], n)
        phase = rng.uniform(0, 2 * np.pi, size=2 * n)
        freq = np.where(y == 0, 3.0, 7.0)
        x = np.sin(2 * np.pi * freq[:, None] * t + phase[:, None]) + 0.3 * rng.normal(size=(2 * n, 80))
        return x[:, None].astype(np.float32), y
    (xt, yt), (xv, yv), (xs, ys) = make(n_per_class), make(6), make(20)
    return Dataset("signals", "sequence", "classification", xt, yt, xv, yv, xs, ys, (1, 80), (), 2, ["slow", "fast"])


def test_run_baselines_fits_every_suitable_baseline_and_minirocket_learns_frequency():
    ds = _signals(15)
    results, skipped = run_baselines(ds, "all", seed=0, max_seconds=60)
    names = {r.model for r in results}
    assert names == {"logistic regression", "1-NN Euclidean", "1-NN DTW", "MiniRocket"} and not skipped
    by_name = {r.model: r for r in results}
    assert by_name["MiniRocket"].test["accuracy"] >= 0.9
    assert {r.model for r in run_baselines(ds, "linear")[0]} == {"logistic regression"}
    assert run_baselines(ds, "none")[0] == []


def test_a_baseline_too_costly_is_skipped_with_the_reason():
    ds = _signals(15)
    results, skipped = run_baselines(ds, "all", seed=0, max_seconds=1e-9)
    assert results == [] and all("evaluate.baseline_seconds" in why for why in skipped.values())
    assert set(skipped) == {BASELINES.get(n).name for n in BASELINES}


def test_the_verdict_uses_the_baseline_best_on_validation_not_on_test():
    good_on_val = BaselineResult("A", "", 0, {"accuracy": 0.9}, {"accuracy": 0.6})
    good_on_test = BaselineResult("B", "", 0, {"accuracy": 0.5}, {"accuracy": 0.95})
    assert best_baseline("classification", [good_on_val, good_on_test]).model == "A"
    line = verdict("classification", {"accuracy": 0.7}, 12.0, [good_on_val, good_on_test])
    assert line["beat"] is True and line["baseline"] == "A" and "beat the best baseline (A" in line["text"]
    worse = verdict("regression", {"mse": 2.0}, 5.0, [BaselineResult("R", "", 0, {"mse": 1.0}, {"mse": 1.5})])
    assert worse["beat"] is False and worse["margin"] == pytest.approx(-0.5)
    assert "(0.5 in the baseline's favour)" in worse["text"]
    assert "0.1 in ORCA's favour" in line["text"]
    assert verdict("classification", {"accuracy": 0.7}, 1.0, [])["beat"] is None
