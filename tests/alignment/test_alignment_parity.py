"""Each objective against a brute-force reference on small problems, and fast otdd-exact against
the rebuild-every-call implementation that follows the official code's structure."""
import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from orca_engine.alignment import make_objective
from orca_engine.alignment.reference import label_distances, otdd_rebuilt
from alignment_problems import clusters, small_problem


def test_fast_otdd_exact_agrees_with_rebuilt_within_one_percent():
    xs, ys, xt, yt = small_problem()
    fast = float(make_objective("otdd-exact", xs, ys)(xt, yt))
    assert fast == pytest.approx(float(otdd_rebuilt(xs, ys, xt, yt)), rel=1e-2)


def test_fast_otdd_exact_gradient_agrees_with_rebuilt():
    """Gradients feel unconverged potentials more than values do, and the two ε-schedules differ
    slightly (the official one also spans the label column), so compare them better converged."""
    xs, ys, xt, yt = small_problem()
    (fast,) = torch.autograd.grad(make_objective("otdd-exact", xs, ys, scaling=0.9)(xt, yt), xt)
    (slow,) = torch.autograd.grad(otdd_rebuilt(xs, ys, xt, yt, scaling=0.9), xt)
    assert float((fast - slow).norm() / slow.norm()) < 1e-2


def test_fast_otdd_exact_agrees_with_rebuilt_on_unequal_class_sizes():
    xs, ys = clusters(25, 3, 6, seed=3)
    keep = torch.ones(len(ys), dtype=torch.bool)
    keep[:15] = False  # source class 0 keeps 10 of 25
    xs, ys = xs[keep], ys[keep]
    xt, yt = clusters(9, 3, 6, seed=4)
    xt, yt = xt[2:] * 0.5, yt[2:]  # target class 0 keeps 7 of 9
    fast = float(make_objective("otdd-exact", xs, ys)(xt, yt))
    assert fast == pytest.approx(float(otdd_rebuilt(xs, ys, xt, yt)), rel=1e-2)


def test_exact_label_distances_match_rebuilt_pairs():
    xs, ys, xt, yt = small_problem()
    matrix = make_objective("otdd-exact", xs, ys).class_distances(xt, yt)
    for t in range(2):
        clouds = [xs[ys == c] for c in range(3)] + [xt.detach()[yt == t]]
        expected = label_distances(clouds, epsilon=0.1, scaling=0.5)[-1, :3].numpy()
        np.testing.assert_allclose(matrix[t], expected, rtol=1e-2)


def bures_bruteforce(a: np.ndarray, b: np.ndarray) -> float:
    """||μ_a - μ_b||² + tr(Σ_a + Σ_b - 2 (Σ_a^½ Σ_b Σ_a^½)^½) with scipy's sqrtm, float64."""
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sa)
    cross = np.real(scipy.linalg.sqrtm(root @ sb @ root))
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * cross))


def test_gaussian_label_distances_match_scipy_sqrtm():
    xs, ys, xt, yt = small_problem()
    xs, xt = xs.double(), xt.detach().double()
    objective = make_objective("otdd-gaussian", xs, ys)
    matrix = objective.class_distances(xt, yt)
    for t, s in itertools.product(range(2), range(3)):
        expected = bures_bruteforce(xt[yt == t].numpy(), xs[ys == s].numpy())
        assert matrix[t, s] == pytest.approx(expected, rel=1e-6)
    source = objective.source_label_distances.numpy()
    for i, j in itertools.combinations(range(3), 2):
        assert source[i, j] == pytest.approx(bures_bruteforce(xs[ys == i].numpy(), xs[ys == j].numpy()), rel=1e-6)


def mmd_bruteforce(xs: np.ndarray, xt: np.ndarray, yt: np.ndarray, mul=2.0, num=5) -> float:
    """Σ_t (n_t/N) MMD²(source, class t) with a plain loop over kernels; pooled mean bandwidth."""
    pooled = np.concatenate([xs, xt])
    d2 = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    h = d2.sum() / (len(pooled) ** 2 - len(pooled))
    scales = [h * mul ** (q - num // 2) for q in range(num)]

    def kernel_mean(a, b):
        d = ((a[:, None] - b[None]) ** 2).sum(-1)
        return sum(np.exp(-d / s) for s in scales).mean()

    total = 0.0
    for t in np.unique(yt):
        c = xt[yt == t]
        total += len(c) / len(xt) * (kernel_mean(xs, xs) + kernel_mean(c, c) - 2 * kernel_mean(xs, c))
    return total


def test_mmd_matches_plain_loop():
    xs, ys, xt, yt = small_problem()
    value = float(make_objective("mmd", xs.double(), ys)(xt.double(), yt))
    expected = mmd_bruteforce(xs.double().numpy(), xt.detach().double().numpy(), yt.numpy())
    assert value == pytest.approx(expected, rel=1e-6)


def test_l2_matches_plain_loop():
    xs, ys, xt, yt = small_problem()
    value = float(make_objective("l2", xs, ys)(xt, yt))
    a, b = xs.double().numpy(), xt.detach().double().numpy()
    expected = np.mean([np.linalg.norm(u - v) for u in a for v in b])
    assert value == pytest.approx(expected, rel=1e-5)
