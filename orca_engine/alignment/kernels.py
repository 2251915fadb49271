r"""The lighter objectives of ORCA's ablations: `mmd`, `l2` and `none`.

Like the official code, each is applied per target class and weighted by the class share n_t / N
(for `l2` that is the plain mean over all target samples).

- `mmd`: biased (V-statistic) squared maximum mean discrepancy with a sum of Gaussian kernels
      k(x, x') = Σ_{q=0}^{Q-1} exp(-||x - x'||² / (h · κ^{q - ⌊Q/2⌋})),   κ = 2, Q = 5,
  h the mean squared distance between distinct points of the pooled source and target sample
  (detached), as ORCA's `MMD_loss` (after Long et al., "Learning Transferable Features with Deep
  Adaptation Networks", ICML 2015). MMD² = <α - β, k (α - β)> ≥ 0, zero for identical datasets.
- `l2`: E ||x - x'|| over independent source and target samples, the quantity ORCA's `l2`
  estimates by pairing random source and target samples.
- `none`: zero, attached to the graph so that backward() works (the no-alignment ablation).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .base import Objective, positive_option
from .classes import group_by_class
from .sinkhorn import squared_distances, weighted_sum
from ..errors import ConfigError


class MMD(Objective):
    name = "mmd"

    def __init__(self, source_features: Any, source_labels: Any, *, kernel_mul: float = 2.0,
                 kernel_num: int = 5, max_source_samples: int = 4096, seed: int = 0):
        super().__init__(source_features, source_labels)
        self.kernel_mul = positive_option("kernel_mul", kernel_mul)
        if not isinstance(kernel_num, int) or isinstance(kernel_num, bool) or kernel_num < 1:
            raise ConfigError(f"objective option kernel_num = {kernel_num!r} is not allowed; use a whole number >= 1")
        self.kernel_num = kernel_num
        keep = stratified_subsample(self.source_labels, max_source_samples, seed)
        self.source = group_by_class(self.source_features[keep], self.source_labels[keep])
        self.rows = self.source.features.reshape(-1, self.source.features.shape[-1])  # (N_s, d), padded
        self.log_a = torch.where(self.source.mask.reshape(-1), -math.log(len(keep)), -math.inf).to(self.dtype)
        self.d2_ss = squared_distances(self.rows, self.rows)  # (N_s, N_s), constant

    def _loss(self, y: Tensor, labels: Tensor) -> Tensor:
        target = group_by_class(y, labels)
        d2_st = squared_distances(self.rows, target.features)  # (C_t, N_s, m)
        d2_tt = squared_distances(target.features, target.features)  # (C_t, m, m)
        scales = self._bandwidths(y)
        log_b = target.log_weights
        k_ss = quadratic(self.log_a, self._kernel(self.d2_ss, scales), self.log_a)
        k_st = quadratic(self.log_a, self._kernel(d2_st, scales), log_b)  # (C_t,)
        k_tt = quadratic(log_b, self._kernel(d2_tt, scales), log_b)
        shares = target.counts.to(y.dtype) / len(y)
        return (shares * (k_ss + k_tt - 2 * k_st)).sum()

    def _class_distances(self, y: Tensor, labels: Tensor) -> Tensor:
        """MMD² between each target class and each source class, with the same kernels."""
        target = group_by_class(y, labels)
        src = self.source
        d2_st = squared_distances(src.features[None], target.features[:, None])  # (C_t, C_s, n, m)
        d2_tt = squared_distances(target.features, target.features)
        scales = self._bandwidths(y)
        d2_own = squared_distances(src.features, src.features)  # (C_s, n, n)
        k_ss = quadratic(src.log_weights, self._kernel(d2_own, scales), src.log_weights)  # (C_s,)
        k_tt = quadratic(target.log_weights, self._kernel(d2_tt, scales), target.log_weights)  # (C_t,)
        k_st = quadratic(src.log_weights[None], self._kernel(d2_st, scales), target.log_weights[:, None])
        return (k_ss[None] + k_tt[:, None] - 2 * k_st).clamp_min(0)

    def _kernel(self, d2: Tensor, scales: Tensor) -> Tensor:
        return sum(torch.exp(-d2 / s) for s in scales)

    def _bandwidths(self, y: Tensor) -> Tensor:
        """h κ^{q - ⌊Q/2⌋}, h the mean squared distance over distinct pairs of the pooled sample.

        Uses Σ_{i,j} ||u_i - v_j||² = m Σ||u_i||² + n Σ||v_j||² - 2 (Σ u_i)·(Σ v_j), O((n + m) d).
        """
        x = self.rows[torch.isfinite(self.log_a)]
        y = y.detach()

        def pair_sum(u: Tensor, v: Tensor) -> Tensor:
            return len(v) * (u * u).sum() + len(u) * (v * v).sum() - 2 * u.sum(0) @ v.sum(0)

        n = len(x) + len(y)
        total = pair_sum(x, x) + 2 * pair_sum(x, y) + pair_sum(y, y)
        h = (total / (n * n - n)).clamp_min(torch.finfo(y.dtype).tiny)
        return h * self.kernel_mul ** (torch.arange(self.kernel_num, device=h.device) - self.kernel_num // 2)


class MeanDistance(Objective):
    name = "l2"

    def _loss(self, y: Tensor, labels: Tensor) -> Tensor:
        return distances(self.source_features, y).mean()

    def _class_distances(self, y: Tensor, labels: Tensor) -> Tensor:
        """Mean distance between the samples of each target class and each source class."""
        d = distances(self.source_features, y)  # (n_s, n_t)
        source_onehot = one_hot_mean(self.source_labels, d.dtype)  # (C_s, n_s)
        target_onehot = one_hot_mean(labels, d.dtype)  # (C_t, n_t)
        return target_onehot @ d.T @ source_onehot.T


class NoAlignment(Objective):
    name = "none"

    def _loss(self, y: Tensor, labels: Tensor) -> Tensor:
        return (y * 0).sum()

    def _class_distances(self, y: Tensor, labels: Tensor) -> Tensor:
        """Squared distances between class means: what the heatmap shows even without alignment."""
        source_means = one_hot_mean(self.source_labels, y.dtype) @ self.source_features
        target_means = one_hot_mean(labels, y.dtype) @ y
        return squared_distances(target_means, source_means)


def distances(x: Tensor, y: Tensor) -> Tensor:
    """||x_i - y_j|| (n, m); the clamp keeps the gradient finite where two points coincide."""
    return squared_distances(x, y).clamp_min(1e-12).sqrt()


def one_hot_mean(labels: Tensor, dtype: torch.dtype) -> Tensor:
    """(C, n) rows averaging the samples of each class, classes in sorted order."""
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    onehot = torch.nn.functional.one_hot(inverse, len(counts)).T.to(dtype)
    return onehot / counts[:, None].to(dtype)


def quadratic(log_a: Tensor, kernel: Tensor, log_b: Tensor) -> Tensor:
    """a^T K b over the last two axes, with a = exp(log_a) (..., n), b = exp(log_b) (..., m)."""
    left = weighted_sum(log_b.unsqueeze(-2), kernel)  # (..., n)
    return weighted_sum(log_a, left)


def stratified_subsample(labels: Tensor, limit: int, seed: int) -> Tensor:
    """Indices of at most `limit` samples, each class in proportion and with at least 2 (seeded)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 2:
        raise ConfigError(f"objective option max_source_samples = {limit!r} is not allowed; use a whole number >= 2")
    if len(labels) <= limit:
        return torch.arange(len(labels), device=labels.device)
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).flatten().cpu()
        take = max(2, round(limit * len(members) / len(labels)))
        keep.append(members[torch.randperm(len(members), generator=generator)[:take]])
    return torch.sort(torch.cat(keep)).values.to(labels.device)
