"""`otdd-exact` computed the straightforward way: every term rebuilt on every call, one class at a time.

This follows the structure of the official ORCA code (`otdd()` in src/embedder.py and the otdd
`DatasetDistance` it calls with `inner_ot_method='exact'`, `debiased_loss=True`, p = 2,
`entreg=0.1`): for every target class, the label-to-label distances between all source classes and
that class are recomputed pair by pair, the samples are augmented with their label as a last
column, and one debiased Sinkhorn divergence is solved on the whole augmented datasets with both
self terms. It exists to check the fast `ExactOTDD` against and to benchmark it; never use it to
train (a large problem takes about a minute).
"""
from __future__ import annotations

import itertools

import torch
from torch import Tensor

from .sinkhorn import sinkhorn_divergence, squared_distances


def otdd_rebuilt(source_features: Tensor, source_labels: Tensor, target_features: Tensor,
                 target_labels: Tensor, *, epsilon: float = 0.1, scaling: float = 0.5) -> Tensor:
    """Σ_t (n_t / N) OTDD(source, target class t): a scalar, differentiable in `target_features`."""
    classes, counts = torch.unique(target_labels, return_counts=True)
    total = target_features.new_zeros(())
    for label, count in zip(classes, counts):
        cloud = target_features[target_labels == label]
        total = total + count / len(target_labels) * dataset_distance(
            source_features, source_labels, cloud, epsilon=epsilon, scaling=scaling)
    return total


def dataset_distance(xs: Tensor, ys: Tensor, cloud: Tensor, *, epsilon: float, scaling: float) -> Tensor:
    """OTDD between the labelled source (xs (n, d), ys (n,)) and one unlabelled class cloud (m, d)."""
    source_classes = torch.unique(ys)
    clouds = [xs[ys == c] for c in source_classes] + [cloud.detach()]
    w = label_distances(clouds, epsilon=epsilon, scaling=scaling)  # the target is label C_s
    source_ids = torch.searchsorted(source_classes, ys)
    z_source = torch.cat([xs, source_ids.to(xs.dtype)[:, None]], 1)  # (n, d + 1): features, label id
    z_target = torch.cat([cloud, cloud.new_full((len(cloud), 1), float(len(source_classes)))], 1)

    def augmented_cost(z1: Tensor, z2: Tensor) -> Tensor:
        label_cost = w[z1[:, -1].long()][:, z2[:, -1].long()]
        return 0.5 * squared_distances(z1[:, :-1], z2[:, :-1]) + 0.5 * label_cost

    return sinkhorn_divergence(z_source, z_target, augmented_cost, epsilon=epsilon, scaling=scaling)


def label_distances(clouds: list[Tensor], *, epsilon: float, scaling: float) -> Tensor:
    """Debiased entropic W between every pair of clouds, as constants; zero diagonal."""
    w = torch.zeros(len(clouds), len(clouds), dtype=clouds[0].dtype, device=clouds[0].device)
    for i, j in itertools.combinations(range(len(clouds)), 2):
        with torch.no_grad():
            w[i, j] = w[j, i] = sinkhorn_divergence(clouds[i], clouds[j], squared_distances,
                                                    epsilon=epsilon, scaling=scaling)
    return w
