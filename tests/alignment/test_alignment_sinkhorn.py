"""The Sinkhorn divergence solver against a brute-force POT plan, geomloss, and its own properties."""
import math

import numpy as np
import ot
import pytest
import torch

from orca_engine.alignment.sinkhorn import (anneal_cross, both_softmins, epsilon_schedule, log_sum_exp,
                                            sinkhorn_divergence, squared_distances)
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


def plain_softmins(eps, cost, h_a, h_b):
    """The textbook soft C-transforms with torch.logsumexp: (rows from h_b, columns from h_a)."""
    return (-eps * torch.logsumexp(h_b.unsqueeze(-2) - cost / eps, -1),
            -eps * torch.logsumexp(h_a.unsqueeze(-1) - cost / eps, -2))


def padded_problem(seed=0, scale=30.0):
    """A batch of 2 problems (6 x 5 costs of order `scale`), the last row and column of the second padded."""
    g = torch.Generator().manual_seed(seed)
    cost = torch.rand(2, 6, 5, generator=g, dtype=torch.float64) * scale
    log_a = torch.full((2, 6), -torch.log(torch.tensor(6.0)).item(), dtype=torch.float64)
    log_b = torch.full((2, 5), -torch.log(torch.tensor(5.0)).item(), dtype=torch.float64)
    log_a[1, -1] = log_b[1, -1] = -math.inf
    log_a[1, :-1], log_b[1, :-1] = -math.log(5), -math.log(4)
    return cost, log_a, log_b


def test_log_sum_exp_matches_torch_in_value_and_gradient():
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(3, 7, generator=g, dtype=torch.float64) * 200).requires_grad_()  # spans far below e^-85
    x_inf = x.detach().clone()
    x_inf[0, :3] = -math.inf  # padding
    for dim in (0, 1):
        ours = log_sum_exp(x, dim)
        (grad,) = torch.autograd.grad(ours.sum(), x)
        (expected_grad,) = torch.autograd.grad(torch.logsumexp(x, dim).sum(), x)
        torch.testing.assert_close(ours, torch.logsumexp(x.detach(), dim), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(log_sum_exp(x_inf.clone(), dim), torch.logsumexp(x_inf, dim), rtol=1e-12, atol=1e-12)
    assert torch.isfinite(log_sum_exp(torch.full((2, 3), -math.inf), 1)).all()  # no NaN on an empty slice


@pytest.mark.parametrize("offset", [0.0, 500.0])
def test_both_softmins_match_the_plain_transforms(offset):
    """offset 500 pushes the plan sums out of range, so the max-shifted fallback must take over."""
    cost, log_a, log_b = padded_problem()
    eps = 0.5
    f0 = torch.randn(2, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + offset
    h_a, h_b = log_a + f0 / eps, log_b
    f, g = both_softmins(eps, cost, h_a, h_b)
    f_ref, g_ref = plain_softmins(eps, cost, h_a, h_b)
    real_a, real_b = torch.isfinite(log_a), torch.isfinite(log_b)
    torch.testing.assert_close(f[real_a], f_ref[real_a], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(g[real_b], g_ref[real_b], rtol=1e-10, atol=1e-10)
    assert torch.isfinite(f).all() and torch.isfinite(g).all()


def test_anneal_cross_matches_the_textbook_schedule_with_padding():
    cost, log_a, log_b = padded_problem(seed=3, scale=50.0)
    eps_list = epsilon_schedule(8.0, 0.1, 0.5)
    f, g = anneal_cross(cost, log_a, log_b, eps_list)
    f_ref, g_ref = plain_softmins(eps_list[0], cost, log_a, log_b)  # first step: zero potentials
    for eps in eps_list:
        f_new, g_new = plain_softmins(eps, cost, log_a + f_ref / eps, log_b + g_ref / eps)
        f_ref, g_ref = 0.5 * (f_ref + f_new), 0.5 * (g_ref + g_new)
    real_a, real_b = torch.isfinite(log_a), torch.isfinite(log_b)
    torch.testing.assert_close(f[real_a], f_ref[real_a], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(g[real_b], g_ref[real_b], rtol=1e-9, atol=1e-9)
