"""Samples grouped by class and padded to a common count, so per-class OT problems run as one batch."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


class PaddedClasses(NamedTuple):
    """C classes of up to n samples each; padding rows are zero with log-weight -inf.

    features (C, n, d), log_weights (C, n) = log(1/n_c) on the n_c real rows, counts (C,),
    classes (C,) the sorted label values, index (C, n) position of each row in the input (-1 on padding).
    """
    features: Tensor
    log_weights: Tensor
    counts: Tensor
    classes: Tensor
    index: Tensor

    @property
    def mask(self) -> Tensor:
        """(C, n) True on real rows."""
        return self.index >= 0


def group_by_class(features: Tensor, labels: Tensor) -> PaddedClasses:
    """Group features (N, d) by labels (N,); differentiable with respect to `features`."""
    classes, inverse, counts = torch.unique(labels, sorted=True, return_inverse=True, return_counts=True)
    order = torch.argsort(inverse, stable=True)  # rows sorted by class, input order kept within a class
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(len(labels), device=labels.device) - starts[inverse[order]]
    n_classes, width = len(classes), int(counts.max())
    padded = features.new_zeros(n_classes, width, features.shape[1])
    padded = padded.index_put((inverse[order], slot), features[order])
    index = torch.full((n_classes, width), -1, dtype=torch.long, device=labels.device)
    index[inverse[order], slot] = order
    log_w = (-counts.to(features.dtype).log()).unsqueeze(1).expand(n_classes, width)
    log_w = log_w.masked_fill(index < 0, -math.inf)
    return PaddedClasses(padded, log_w.contiguous(), counts, classes, index)
