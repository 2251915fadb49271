"""The Sinkhorn divergence solver against a brute-force POT plan, geomloss, and its own properties."""

import numpy as np
import ot
import pytest
import torch

from orca_engine.alignment.sinkhorn import sinkhorn_divergence, squared_distances
from alignment_problems import clusters


def entropic_ot_bruteforce(x: np.ndarray, y: np.ndarray, eps: float) -> float:
    """OT_ε = <P, C> + ε KL(P | a⊗b) from POT's log-domain Sinkhorn plan, run to 1e-10."""
    a, b = ot.unif(len(x)), ot.unif(len(y))
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    plan = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", numItermax=20_000, stopThr=1e-10)
    plan = np.maximum(plan, 1e-300)
    return float((plan * cost).sum() + eps * (plan * np.log(plan / np.outer(a, b))).sum())


def divergence_bruteforce(x, y, eps):
    return (entropic_ot_bruteforce(x, y, eps) - 0.5 * entropic_ot_bruteforce(x, x, eps)
            - 0.5 * entropic_ot_bruteforce(y, y, eps))


@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_divergence_matches_bruteforce_plan(eps):
    x, _ = clusters(15, 1, 3, seed=2)
    y, _ = clusters(11, 1, 3, seed=3)
    x, y = x * 0.4, y * 0.4  # costs of order 1, so that plain Sinkhorn converges at ε = 0.1
    ours = sinkhorn_divergence(x.double(), y.double() + 0.5, squared_distances, epsilon=eps, scaling=0.9)
    expected = divergence_bruteforce(x.double().numpy(), y.double().numpy() + 0.5, eps)
    assert float(ours) == pytest.approx(expected, rel=1e-2)


def test_divergence_matches_geomloss_step_for_step():
    geomloss = pytest.importorskip("geomloss")
    from geomloss._legacy.utils import squared_distances as geomloss_sq
    x, _ = clusters(30, 1, 16, seed=4)
    y, _ = clusters(20, 1, 16, seed=5)
    loss = geomloss.SamplesLoss("sinkhorn", p=2, cost=geomloss_sq, debias=True, blur=0.1 ** 0.5)
    assert float(sinkhorn_divergence(x, y, squared_distances)) == pytest.approx(float(loss(x, y)), rel=1e-4)


def test_divergence_properties():
    x, _ = clusters(16, 1, 4, seed=6)
    y, _ = clusters(13, 1, 4, seed=7)
    xy = float(sinkhorn_divergence(x, y + 1, squared_distances))
    yx = float(sinkhorn_divergence(y + 1, x, squared_distances))
    assert xy > 0
    assert xy == pytest.approx(yx, rel=1e-3)
    assert abs(float(sinkhorn_divergence(x, x.clone(), squared_distances))) < 1e-3 * xy


def test_divergence_gradient_is_the_envelope_gradient():
    """Finite differences of the value agree with the one-step autograd gradient."""
    x, _ = clusters(10, 1, 3, seed=8)
    y, _ = clusters(9, 1, 3, seed=9)
    x, y = x.double(), (y.double() + 1).requires_grad_()
    sinkhorn_divergence(x, y, squared_distances, epsilon=0.5, scaling=0.9).backward()
    direction = torch.randn(y.shape, generator=torch.Generator().manual_seed(0), dtype=y.dtype)
    step = 1e-4
    plus = sinkhorn_divergence(x, y.detach() + step * direction, squared_distances, epsilon=0.5, scaling=0.9)
    minus = sinkhorn_divergence(x, y.detach() - step * direction, squared_distances, epsilon=0.5, scaling=0.9)
    numeric = float(plus - minus) / (2 * step)
    assert float((y.grad * direction).sum()) == pytest.approx(numeric, rel=2e-2)
