r"""Label-to-label distances W(y, y') between class-conditional feature clouds, batched over classes.

Two definitions, one per OTDD variant (Alvarez-Melis & Fusi, "Geometric Dataset Distances via
Optimal Transport", NeurIPS 2020, Sec. 3; ORCA uses them through its vendored otdd):

- entropic (`otdd-exact`): W(y, y') = S_ε(α_y, α_y'), the debiased Sinkhorn divergence between
  the uniform measures on the two clouds with the *full* squared distance ||x - x'||² as ground
  cost (otdd `pwdist_exact` with p = 2, `debias=True`).
- Gaussian (`otdd-gaussian`): each class as N(μ, Σ) with the unbiased sample covariance, and the
  closed-form squared 2-Wasserstein (Bures-Wasserstein) distance (Dowson & Landau 1982)

      W(y, y') = ||μ - μ'||² + tr Σ + tr Σ' - 2 tr (Σ^½ Σ' Σ^½)^½.

Both enter the outer OTDD cost as constants (computed without gradient, as in the official code).
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor

from .classes import PaddedClasses
from .sinkhorn import anneal_cross, anneal_self, final_cross, squared_distances, weighted_sum


@torch.no_grad()
def class_self_potentials(clouds: PaddedClasses, eps_list: list[float]) -> Tensor:
    """f_αα (C, n) of OT_ε(α_c, α_c) for every class c, ground cost ||x - x'||²."""
    cost = squared_distances(clouds.features, clouds.features)  # (C, n, n)
    return anneal_self(cost, clouds.log_weights, eps_list, finish=True)


@torch.no_grad()
def entropic_divergences(cost: Tensor, log_a: Tensor, log_b: Tensor, f_aa: Tensor, g_bb: Tensor,
                         eps_list: list[float]) -> Tensor:
    """S_ε for a batch of problems given their cross cost (..., n, m) and self potentials.

    log_a, f_aa broadcastable to (..., n); log_b, g_bb broadcastable to (..., m). Returns (...).
    """
    f, g = anneal_cross(cost, log_a, log_b, eps_list)
    f, g = final_cross(cost, log_a, log_b, f, g, eps_list[-1])
    return weighted_sum(log_a, f - f_aa) + weighted_sum(log_b, g - g_bb)


@torch.no_grad()
def entropic_source_distances(source: PaddedClasses, f_ss: Tensor, eps_list: list[float],
                              max_elements: int) -> Tensor:
    """W (C_s, C_s) between source classes; pairs batched in chunks of at most `max_elements` costs."""
    n_classes, width, _ = source.features.shape
    pairs = torch.tensor(list(itertools.combinations(range(n_classes), 2)), dtype=torch.long).reshape(-1, 2)
    distances = source.features.new_zeros(n_classes, n_classes)  # the diagonal is exactly 0, debiased
    chunk = max(1, max_elements // (width * width))
    for block in torch.split(pairs.to(source.features.device), chunk):
        j, k = block.T
        cost = squared_distances(source.features[j], source.features[k])  # (P, n, n)
        values = entropic_divergences(cost, source.log_weights[j], source.log_weights[k], f_ss[j], f_ss[k], eps_list)
        distances[j, k] = distances[k, j] = values
    return distances


@torch.no_grad()
def entropic_cross_distances(d2: Tensor, source: PaddedClasses, f_ss: Tensor, target: PaddedClasses,
                             eps_list: list[float]) -> Tensor:
    """W (C_t, C_s) between target and source classes.

    d2 (C_t, C_s·n_s, m): squared distances from the padded source rows to each target class,
    already computed for the outer problem and reused here as the inner costs (C_t, C_s, n_s, m).
    """
    n_target, width = target.log_weights.shape
    cost = d2.reshape(n_target, *source.log_weights.shape, width)
    g_tt = class_self_potentials(target, eps_list)  # (C_t, m)
    return entropic_divergences(cost, source.log_weights, target.log_weights[:, None, :], f_ss,
                                g_tt[:, None, :], eps_list)


class Gaussians(NamedTuple):
    """Per-class Gaussian fits: means (C, d), covariance roots Σ^½ (C, d, d), traces tr Σ (C,)."""
    means: Tensor
    roots: Tensor
    traces: Tensor


def centred_scaled(clouds: PaddedClasses) -> tuple[Tensor, Tensor]:
    """Class means (C, d) and Z (C, n, d) with Zᵀ Z = Σ the unbiased covariance (zero on padding)."""
    mask = clouds.mask.unsqueeze(-1).to(clouds.features.dtype)  # (C, n, 1)
    counts = clouds.counts.to(clouds.features.dtype)
    means = clouds.features.sum(1) / counts[:, None]
    z = (clouds.features - means[:, None, :]) * mask / (counts - 1).sqrt()[:, None, None]
    return means, z


@torch.no_grad()
def fit_gaussians(clouds: PaddedClasses) -> Gaussians:
    means, z = centred_scaled(clouds)
    covs = z.transpose(-1, -2) @ z  # (C, d, d)
    values, vectors = torch.linalg.eigh(covs)
    roots = (vectors * values.clamp_min(0).sqrt().unsqueeze(-2)) @ vectors.transpose(-1, -2)
    return Gaussians(means, roots, covs.diagonal(dim1=-2, dim2=-1).sum(-1))


@torch.no_grad()
def bures_source_distances(g: Gaussians) -> Tensor:
    """W (C_s, C_s) between source classes; tr (Σ_j^½ Σ_k Σ_j^½)^½ = ||Σ_k^½ Σ_j^½||_* (nuclear norm)."""
    n_classes = len(g.means)
    j, k = torch.triu_indices(n_classes, n_classes, offset=1, device=g.means.device)
    cross_trace = torch.linalg.svdvals(g.roots[k] @ g.roots[j]).sum(-1)  # (pairs,)
    distances = g.means.new_zeros(n_classes, n_classes)
    distances[j, k] = distances[k, j] = bures(g.means[j], g.means[k], g.traces[j], g.traces[k], cross_trace)
    return distances


@torch.no_grad()
def bures_cross_distances(source: Gaussians, target: PaddedClasses) -> Tensor:
    """W (C_t, C_s). With Σ_t = Zᵀ Z, tr (Σ_s^½ Σ_t Σ_s^½)^½ is the nuclear norm of Z Σ_s^½ (m x d),
    so only singular values of thin matrices are needed, never a d x d square root per pair."""
    means, z = centred_scaled(target)
    cross_trace = torch.linalg.svdvals(z[:, None] @ source.roots[None]).sum(-1)  # (C_t, C_s)
    traces = (z * z).sum((-1, -2))
    return bures(means[:, None], source.means[None], traces[:, None], source.traces[None], cross_trace)


def bures(mean_a: Tensor, mean_b: Tensor, trace_a: Tensor, trace_b: Tensor, cross_trace: Tensor) -> Tensor:
    """||μ_a - μ_b||² + tr Σ_a + tr Σ_b - 2 tr(Σ_a^½ Σ_b Σ_a^½)^½, clamped at 0 against round-off."""
    return ((mean_a - mean_b) ** 2).sum(-1).add(trace_a + trace_b - 2 * cross_trace).clamp_min(0)
