r"""OTDD objectives: ORCA's alignment loss, with every source-only term computed once.

For a labelled source D_s = {(x_i, y_i)} and a target class T_t = {x'_j} (all given one shared
label t), ORCA minimises over the embedder

    L = Σ_t (n_t / N) · OTDD(D_s, T_t),     OTDD = S_ε on feature-label pairs with ground cost
    c((x, y), (x', y')) = ½ ||x - x'||² + ½ W(y, y'),

S_ε the debiased Sinkhorn divergence (`sinkhorn.py`, ε = 0.1, i.e. geomloss blur 0.1^½) and W a
label distance (`label_distances.py`): entropic for `otdd-exact`, Bures for `otdd-gaussian`.
The ½ on W is otdd's `batch_augmented_cost`, which divides the label term by p = 2 as well.

What is cached at construction (the official code rebuilds it on every call, for every class):
    W between source classes, the inner self potentials of every source class, and the outer
    self potential f_αα of the whole labelled source (its cost needs W between source classes).
What one call computes, for all target classes in one batch:
    one distance matrix d2 = ||x_i - x'_j||² (C_t, N_s, m) that serves both the inner problems
    (W between each target and each source class) and the outer ones, then the outer cross and
    target-self problems, then one differentiable Sinkhorn step (envelope theorem).

Shapes: source padded to C_s classes x n_s rows (N_s = C_s·n_s rows in total, padding weighted 0),
target padded to C_t classes x m rows.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .base import Objective, positive_option
from .classes import PaddedClasses, group_by_class
from .label_distances import (bures_cross_distances, bures_source_distances, class_self_potentials,
                              entropic_cross_distances, entropic_source_distances, fit_gaussians)
from .sinkhorn import (anneal_cross, anneal_self, epsilon_schedule, final_cross, final_self,
                       squared_distances, weighted_sum)

MAX_DENSE_ELEMENTS = 2 ** 26  # largest cost matrix held at once (256 MB in fp32); bigger ones go in blocks


class OTDDObjective(Objective):
    """The outer OTDD problem shared by both variants; subclasses define the label distances W."""

    def __init__(self, source_features: Any, source_labels: Any, *, epsilon: float = 0.1, scaling: float = 0.5):
        super().__init__(source_features, source_labels)
        self.epsilon = positive_option("epsilon", epsilon)
        self.scaling = positive_option("scaling", scaling, below_one=True)
        with torch.no_grad():
            self.source: PaddedClasses = group_by_class(self.source_features, self.source_labels)
            n_classes, width, dim = self.source.features.shape
            self.source_rows = self.source.features.reshape(-1, dim)  # (N_s, d)
            self.row_class = torch.arange(n_classes, device=self.device).repeat_interleave(width)  # (N_s,)
            self.outer_log_a = torch.where(self.source.mask.reshape(-1), -math.log(len(self.source_features)),
                                           -math.inf).to(self.dtype)  # (N_s,) uniform over the source
            self.source_low = self.source_features.min(0).values
            self.source_high = self.source_features.max(0).values
            eps_list = self._schedule(self.source_features)
            self.source_label_distances = self._prepare_source_labels(eps_list)  # (C_s, C_s)
            self.f_aa = self._source_self_potential(eps_list)  # (N_s,)

    # -- what a variant defines ---------------------------------------------------------------
    def _prepare_source_labels(self, eps_list: list[float]) -> Tensor:
        """Cache what the variant needs from the source and return W between source classes."""
        raise NotImplementedError

    def _cross_label_distances(self, target: PaddedClasses, d2: Tensor, eps_list: list[float]) -> Tensor:
        """W (C_t, C_s) between target and source classes, without gradient."""
        raise NotImplementedError

    # -- the objective ----------------------------------------------------------------------------
    def _loss(self, y: Tensor, labels: Tensor) -> Tensor:
        target = group_by_class(y, labels)
        eps_list = self._schedule(y.detach())
        d2 = squared_distances(self.source_rows, target.features)  # (C_t, N_s, m), differentiable
        label_cost = self._cross_label_distances(target, d2.detach(), eps_list)[:, self.row_class]  # (C_t, N_s)
        cost = 0.5 * d2 + 0.5 * label_cost.unsqueeze(-1)
        shares = target.counts.to(self.dtype) / len(y)
        return (shares * self._outer_divergences(cost, target, eps_list)).sum()

    def _class_distances(self, y: Tensor, labels: Tensor) -> Tensor:
        target = group_by_class(y, labels)
        eps_list = self._schedule(y)
        return self._cross_label_distances(target, squared_distances(self.source_rows, target.features), eps_list)

    def _outer_divergences(self, cost: Tensor, target: PaddedClasses, eps_list: list[float]) -> Tensor:
        """S_ε (C_t,) between the labelled source and each target class, given the cross cost (C_t, N_s, m)."""
        log_a, log_b, y = self.outer_log_a, target.log_weights, target.features
        f_ba, g_ab = anneal_cross(cost.detach(), log_a, log_b, eps_list)
        g_bb = anneal_self(0.5 * squared_distances(y, y).detach(), log_b, eps_list)  # W(t, t) = 0
        eps = eps_list[-1]
        f_ba, g_ab = final_cross(cost, log_a, log_b, f_ba, g_ab, eps, cost_f=cost.detach())
        g_bb = final_self(0.5 * squared_distances(y, y.detach()), log_b, g_bb, eps)
        return weighted_sum(log_a, f_ba - self.f_aa) + weighted_sum(log_b, g_ab - g_bb)

    def _source_self_potential(self, eps_list: list[float]) -> Tensor:
        """f_αα (N_s,) of the labelled source against itself: cost ½||x - x'||² + ½ W(y, y')."""
        rows, classes, w = self.source_rows, self.row_class, self.source_label_distances

        def cost_rows(part: slice) -> Tensor:
            return 0.5 * squared_distances(rows[part], rows) + 0.5 * w[classes[part]][:, classes]

        n = len(rows)
        if n * n <= MAX_DENSE_ELEMENTS:
            return anneal_self(cost_rows(slice(0, n)), self.outer_log_a, eps_list, finish=True)
        return anneal_self(cost_rows, self.outer_log_a, eps_list, block=max(1, MAX_DENSE_ELEMENTS // n), finish=True)

    def _schedule(self, y: Tensor) -> list[float]:
        """ε-scaling from the diameter of the box bounding the source and the target features y (n, d)."""
        low = torch.minimum(self.source_low, y.min(0).values)
        high = torch.maximum(self.source_high, y.max(0).values)
        return epsilon_schedule(float((high - low).norm()), self.epsilon, self.scaling)


class ExactOTDD(OTDDObjective):
    """`otdd-exact`: label distances are debiased entropic 2-Wasserstein distances (ORCA's default)."""

    name = "otdd-exact"

    def _prepare_source_labels(self, eps_list: list[float]) -> Tensor:
        self.f_ss = class_self_potentials(self.source, eps_list)  # (C_s, n_s), reused by every call
        return entropic_source_distances(self.source, self.f_ss, eps_list, MAX_DENSE_ELEMENTS)

    def _cross_label_distances(self, target: PaddedClasses, d2: Tensor, eps_list: list[float]) -> Tensor:
        return entropic_cross_distances(d2, self.source, self.f_ss, target, eps_list)


class GaussianOTDD(OTDDObjective):
    """`otdd-gaussian`: classes as Gaussians, label distances in closed form (Bures-Wasserstein)."""

    name = "otdd-gaussian"

    def _prepare_source_labels(self, eps_list: list[float]) -> Tensor:
        self.gaussians = fit_gaussians(self.source)
        return bures_source_distances(self.gaussians)

    def _cross_label_distances(self, target: PaddedClasses, d2: Tensor, eps_list: list[float]) -> Tensor:
        return bures_cross_distances(self.gaussians, target)
