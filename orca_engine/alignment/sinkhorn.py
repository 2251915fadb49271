r"""Batched log-domain Sinkhorn divergences with ε-scaling: the solver behind the OTDD objectives.

For discrete measures α = Σ_i a_i δ_{x_i} and β = Σ_j b_j δ_{y_j} and a cost matrix C,

    OT_ε(α, β) = min_{π ∈ Π(a, b)} <π, C> + ε KL(π | a ⊗ b)
               = max_{f, g} <a, f> + <b, g> - ε <a ⊗ b, exp((f ⊕ g - C) / ε) - 1>

and the debiased Sinkhorn divergence (non-negative, zero iff α = β for a positive kernel) is

    S_ε(α, β) = OT_ε(α, β) - ½ OT_ε(α, α) - ½ OT_ε(β, β)
              = <a, f_βα - f_αα> + <b, g_αβ - g_ββ>                       (at the optimum)

where (f_βα, g_αβ) are the optimal potentials of the cross problem and f_αα, g_ββ those of the
symmetric self problems. Potentials are updated by the soft C-transform

    f_i = -ε log Σ_j exp(log b_j + g_j / ε - C_ij / ε)                    (`softmin_rows`)

with symmetric (averaged) updates and ε-scaling: ε starts at diameter² and is divided by
scaling⁻² each iteration down to the target ε, then one last full update (`final`) is taken
with autograd on. By the envelope theorem that last step alone gives the exact gradient of the
converged value, so the loop itself runs without a graph. This is the algorithm, schedule and
value formula of geomloss `SamplesLoss("sinkhorn", p=2, debias=True)`, which the official ORCA
code calls, written for batches of problems of different sizes (padding carries log-weight -inf).

Speed (the annealing loops are nearly all of an objective call): both halves of a symmetric
update come from one exponential of the cost, stabilised by the potentials (`both_softmins`),
and every exponent is floored at EXP_FLOOR first, because exp of arguments below float32's
normal range (the bulk of a plan at small ε) is 10-30x slower on CPU. Values are unchanged to
float round-off. Warm starts from the previous call's potentials were tried and dropped: at
ε = 0.1 with squared distances in the thousands, one alignment step moves the cost by ~1000 ε,
so resuming at the final ε drifted from the annealed value (0.8% after 14 steps of a simulated
alignment run, gradients 20-45% off) and a shortened ramp saved under 2x with gradients 18% off;
the annealed value is what the official code computes, so the schedule is always run in full.

References:
    Feydy, Séjourné, Vialard, Amari, Trouvé, Peyré, "Interpolating between Optimal Transport and
    MMD using Sinkhorn Divergences", AISTATS 2019.
    Feydy, "Geometric data analysis, beyond convolutions", PhD thesis 2020, Alg. 3.5 and Eq. 3.209.
    Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport problems",
    SIAM J. Sci. Comput. 2019 (log-domain stabilisation, ε-scaling).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
from torch import Tensor

# Largest acceptable relative change of OT_ε in the final full update. At ε = 0.1 on features of
# scale ~1 in hundreds of dimensions the annealed potentials still violate the marginals, yet the
# value is stable to ~1e-4 (and matches geomloss to float precision): the value is what we check.
CONVERGENCE_TOL = 5e-2  # 1-2% moves are routine in small label problems, where values are small
# Floor on every exponent before exp. Below about -87 exp leaves float32's normal range, where CPUs
# take a slow path (10-30x slower, measured) to produce denormals or zeros. Near-zero plan entries
# are the bulk of a Sinkhorn at small ε, so the floor decides the speed; what it adds, at most
# e^-85 per entry against sums of at least e^-60 (`both_softmins`) or 1 (`log_sum_exp`), is below
# float64 round-off.
EXP_FLOOR = -85.0
# Plan sums outside [e^-SUM_RANGE, e^SUM_RANGE] make `both_softmins` fall back to `log_sum_exp`.
SUM_RANGE = 60.0


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    """||x_i - y_j||² for x (..., N, D) and y (..., M, D): (..., N, M), clamped at zero."""
    x_sq = (x * x).sum(-1).unsqueeze(-1)  # (..., N, 1)
    y_sq = (y * y).sum(-1).unsqueeze(-2)  # (..., 1, M)
    return (x_sq + y_sq - 2 * x @ y.transpose(-1, -2)).clamp_min(0)


def bounding_diameter(*clouds: Tensor) -> float:
    """Diagonal of the box bounding every point of every cloud (..., D): geomloss's `max_diameter`."""
    lows = torch.stack([c.reshape(-1, c.shape[-1]).min(0).values for c in clouds]).min(0).values
    highs = torch.stack([c.reshape(-1, c.shape[-1]).max(0).values for c in clouds]).max(0).values
    return float((highs - lows).norm())


def epsilon_schedule(diameter: float, epsilon: float, scaling: float) -> list[float]:
    """ε values for the annealing loop: diameter², then ×scaling² per step, ending at `epsilon`.

    Same list as geomloss's `epsilon_schedule` with p = 2 and blur = ε^½. A larger `scaling`
    (closer to 1) means more iterations and a better converged value.
    """
    start = max(diameter, math.sqrt(epsilon)) ** 2
    steps = torch.arange(math.log(start), math.log(epsilon), 2 * math.log(scaling)).exp().tolist()
    return [start] + steps + [epsilon]


def softmin_rows(eps: float, cost: Tensor, h: Tensor) -> Tensor:
    """f_i = -ε log Σ_j exp(h_j - C_ij / ε) for cost (..., N, M) and h (..., M): (..., N)."""
    return -eps * log_sum_exp((cost * (-1 / eps)).add_(h.unsqueeze(-2)), dim=-1)  # one temporary


def softmin_cols(eps: float, cost: Tensor, h: Tensor) -> Tensor:
    """g_j = -ε log Σ_i exp(h_i - C_ij / ε) for cost (..., N, M) and h (..., N): (..., M)."""
    return -eps * log_sum_exp((cost * (-1 / eps)).add_(h.unsqueeze(-1)), dim=-2)


def log_sum_exp(x: Tensor, dim: int) -> Tensor:
    """log Σ exp(x) along `dim`, like torch.logsumexp but with exponents floored at EXP_FLOOR after
    the max shift (a relative change below e^-85 · size, and several times faster on CPU).

    Overwrites x when it needs no gradient. The shift is detached: the gradient is still softmax(x).
    """
    shift = x.detach().amax(dim, keepdim=True)
    shift = shift.masked_fill_(~torch.isfinite(shift), 0)  # an all -inf slice gives a finite floor, not NaN
    if x.requires_grad:
        terms = (x - shift).clamp_min(EXP_FLOOR).exp()
    else:
        terms = x.sub_(shift).clamp_min_(EXP_FLOOR).exp_()
    return terms.sum(dim).log() + shift.squeeze(dim)


@torch.no_grad()
def anneal_cross(cost: Tensor, log_a: Tensor, log_b: Tensor, eps_list: list[float]) -> tuple[Tensor, Tensor]:
    """Potentials (f (..., N), g (..., M)) of OT_ε between weights a and b, before the final step.

    cost (..., N, M); log_a broadcastable to (..., N) and log_b to (..., M), -inf on padding.
    """
    f = softmin_rows(eps_list[0], cost, log_b)
    g = softmin_cols(eps_list[0], cost, log_a)
    for eps in eps_list:
        f_new, g_new = both_softmins(eps, cost, log_a + f / eps, log_b + g / eps)
        f, g = 0.5 * (f + f_new), 0.5 * (g + g_new)  # symmetric updates: Feydy 2020, Fig. 3.24b
    return f, g


def both_softmins(eps: float, cost: Tensor, h_a: Tensor, h_b: Tensor) -> tuple[Tensor, Tensor]:
    r"""(softmin_rows(ε, C, h_b), softmin_cols(ε, C, h_a)) from one exponential of the cost.

    With the current plan P_ij = exp(h_a,i + h_b,j - C_ij / ε) (h = log weight + potential / ε),

        log Σ_j exp(h_b,j - C_ij / ε) = log Σ_j P_ij - h_a,i,   and likewise down the columns,

    so both halves of a symmetric update need one exp pass and two sums, where two log-sum-exps
    need two max passes, two shifts and two exps. The potentials themselves act as the stabiliser:
    along the ε-schedule they stay close to the soft C-transforms they approximate, so the sums
    stay near the marginal weights (on the benchmark problems 1-2 of the 24 updates of a call fall back).
    Where a row or column sum leaves [e^-60, e^60] (under- or overflow would cost precision) both
    halves are recomputed with the max-shifted log-sum-exp.
    Exponents are floored at EXP_FLOOR, so padding gets e^-85 instead of 0 (negligible: see there).
    Padding (h = -inf) gives potential 0, never NaN; its weight is zero wherever it is used.
    """
    plan = cost * (-1 / eps)  # (..., N, M)
    plan.add_(h_a.unsqueeze(-1)).add_(h_b.unsqueeze(-2)).clamp_min_(EXP_FLOOR).exp_()
    rows, cols = plan.sum(-1), plan.sum(-2)  # (..., N), (..., M)
    real_a, real_b = torch.isfinite(h_a).expand_as(rows), torch.isfinite(h_b).expand_as(cols)
    if not (in_range(rows[real_a]) and in_range(cols[real_b])):
        return softmin_rows(eps, cost, h_b), softmin_cols(eps, cost, h_a)
    f = (-eps * (rows.log_() - h_a)).masked_fill_(~real_a, 0)
    g = (-eps * (cols.log_() - h_b)).masked_fill_(~real_b, 0)
    return f, g


def in_range(sums: Tensor) -> bool:
    """All finite and within [e^-SUM_RANGE, e^SUM_RANGE]: safe to take logs without losing precision."""
    return bool(((sums > math.exp(-SUM_RANGE)) & (sums < math.exp(SUM_RANGE))).all())


@torch.no_grad()
def anneal_self(cost_rows: Tensor | Callable[[slice], Tensor], log_a: Tensor, eps_list: list[float],
                block: int | None = None, finish: bool = False) -> Tensor:
    """Potential f (..., N) of the symmetric problem OT_ε(α, α) (after the final step if `finish`).

    cost_rows: the symmetric cost (..., N, N), or, for clouds too big to hold it, a function
    returning the rows `slice` of it (rows, N) (then `log_a` is (N,) and `block` the row count).
    """
    def rows_softmin(eps: float, h: Tensor) -> Tensor:
        if isinstance(cost_rows, Tensor):
            return softmin_rows(eps, cost_rows, h)
        n = h.shape[-1]
        return torch.cat([softmin_rows(eps, cost_rows(slice(i, i + block)), h) for i in range(0, n, block)])

    f = rows_softmin(eps_list[0], log_a)
    for eps in eps_list:
        f = 0.5 * (f + rows_softmin(eps, log_a + f / eps))
    return rows_softmin(eps_list[-1], log_a + f / eps_list[-1]) if finish else f


def final_cross(cost: Tensor, log_a: Tensor, log_b: Tensor, f: Tensor, g: Tensor, eps: float,
                cost_f: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One full parallel update of (f, g) with autograd on: the envelope-theorem gradient step.

    `cost_f` (default `cost`) is used for the f update; pass `cost.detach()` so that the gradient
    with respect to the points of b flows only through g, as geomloss does with `y.detach()`.
    """
    f_new = softmin_rows(eps, cost if cost_f is None else cost_f, (log_b + g / eps).detach())
    g_new = softmin_cols(eps, cost, (log_a + f / eps).detach())
    warn_if_unconverged(log_a, log_b, (f, g), (f_new, g_new), eps)
    return f_new, g_new


def final_self(cost: Tensor, log_a: Tensor, f: Tensor, eps: float) -> Tensor:
    """One full update of a self potential with autograd on (see `final_cross`)."""
    return softmin_rows(eps, cost, (log_a + f / eps).detach())


def warn_if_unconverged(log_a: Tensor, log_b: Tensor, before: tuple[Tensor, Tensor],
                        after: tuple[Tensor, Tensor], eps: float) -> None:
    """Warn when the final update changes OT_ε = <a, f> + <b, g> by more than CONVERGENCE_TOL."""
    def value(f: Tensor, g: Tensor) -> Tensor:
        return weighted_sum(log_a, f.detach()) + weighted_sum(log_b, g.detach())

    new = value(*after)
    change = (new - value(*before)).abs() / new.abs().clamp_min(eps)
    worst = float(change.max()) if change.numel() else 0.0
    if not math.isfinite(worst) or worst > CONVERGENCE_TOL:
        warnings.warn(f"Sinkhorn did not converge: the OT value still moved by {worst:.2%} in the last "
                      f"iteration (tolerance {CONVERGENCE_TOL:.0%}). Raise `scaling` towards 1 (more "
                      "iterations) or `epsilon` (a smoother problem), and check the features for NaN or "
                      "extreme scales.", RuntimeWarning, stacklevel=3)


def weighted_sum(log_w: Tensor, values: Tensor) -> Tensor:
    """<w, values> over the last axis, with w = exp(log_w) (zero on padding, never NaN there)."""
    return (log_w.exp() * values.masked_fill(torch.isinf(log_w), 0)).sum(-1)


def sinkhorn_divergence(x: Tensor, y: Tensor, cost: Callable[[Tensor, Tensor], Tensor],
                        epsilon: float = 0.1, scaling: float = 0.5) -> Tensor:
    """S_ε between uniform measures on x (N, D) and y (M, D) for a ground cost `cost(x, y)` -> (N, M).

    Unbatched and uncached, step for step what geomloss computes (costs rebuilt on every call);
    differentiable with respect to both clouds. The straightforward reference for the batched paths.
    """
    log_a = torch.full((x.shape[0],), -math.log(x.shape[0]), dtype=x.dtype, device=x.device)
    log_b = torch.full((y.shape[0],), -math.log(y.shape[0]), dtype=y.dtype, device=y.device)
    eps_list = epsilon_schedule(bounding_diameter(x.detach(), y.detach()), epsilon, scaling)
    c_xy, c_yx = cost(x, y.detach()), cost(y, x.detach())
    c_xx, c_yy = cost(x, x.detach()), cost(y, y.detach())
    f_ba, g_ab = anneal_cross(c_xy.detach(), log_a, log_b, eps_list)
    f_aa = anneal_self(c_xx.detach(), log_a, eps_list)
    g_bb = anneal_self(c_yy.detach(), log_b, eps_list)
    eps = eps_list[-1]
    f_ba, g_ab = (softmin_rows(eps, c_xy, (log_b + g_ab / eps).detach()),
                  softmin_rows(eps, c_yx, (log_a + f_ba / eps).detach()))
    f_aa, g_bb = final_self(c_xx, log_a, f_aa, eps), final_self(c_yy, log_b, g_bb, eps)
    return weighted_sum(log_a, f_ba - f_aa) + weighted_sum(log_b, g_ab - g_bb)
