"""The objective interface every alignment objective implements, and the input checks they share.

    objective = make_objective(name, source_features (n_s, d), source_labels (n_s,), **options)
    loss = objective(target_features (n_t, d), target_labels (n_t,))     # scalar, differentiable
    matrix = objective.class_distances(target_features, target_labels)   # (C_t, C_s) numpy

Rows of `class_distances` are the sorted unique target labels (`objective.target_classes(labels)`),
columns the sorted unique source labels (`objective.source_classes`). Source terms are computed
once at construction; calls run on the device of the target features, in fp32 (bf16/fp16 inputs are upcast
and autocast is switched off inside).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError, DataError


class Objective:
    """Base class: validates inputs, moves cached source terms to the target's device."""

    name: ClassVar[str] = ""

    def __init__(self, source_features: Any, source_labels: Any):
        self.source_features = as_features(source_features, "source_features")
        self.source_labels = as_labels(source_labels, len(self.source_features), "source_labels")
        self.dtype = torch.float64 if self.source_features.dtype == torch.float64 else torch.float32
        self.source_features = self.source_features.to(self.dtype)
        classes, counts = torch.unique(self.source_labels, return_counts=True)
        check_class_sizes(classes, counts, "source")
        self.source_classes: np.ndarray = classes.cpu().numpy()
        self.device = self.source_features.device

    def __call__(self, target_features: Any, target_labels: Any) -> Tensor:
        """The objective value: a scalar tensor, differentiable with respect to `target_features`."""
        y, labels = self._checked_target(target_features, target_labels)
        with fp32_maths(y):
            return self._loss(y, labels)

    @torch.no_grad()
    def class_distances(self, target_features: Any, target_labels: Any) -> np.ndarray:
        """(C_t, C_s) float64: rows `target_classes(target_labels)`, columns `source_classes`."""
        y, labels = self._checked_target(target_features, target_labels)
        with fp32_maths(y):
            return self._class_distances(y.detach(), labels).double().cpu().numpy()

    @staticmethod
    def target_classes(target_labels: Any) -> np.ndarray:
        """The row order of `class_distances`: sorted unique target labels."""
        return np.unique(np.asarray(torch.as_tensor(target_labels).cpu()))

    def _loss(self, y: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError

    def _class_distances(self, y: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError

    def _checked_target(self, target_features: Any, target_labels: Any) -> tuple[Tensor, Tensor]:
        y = as_features(target_features, "target_features")
        labels = as_labels(target_labels, len(y), "target_labels").to(y.device)
        if y.shape[1] != self.source_features.shape[1]:
            raise DataError(f"target_features have {y.shape[1]} features per sample but the source has "
                            f"{self.source_features.shape[1]}; embed the target to the source's width")
        check_class_sizes(*torch.unique(labels, return_counts=True), "target")
        if y.device != self.device:
            self._move_to(y.device)
        return y.to(self.dtype), labels

    def _move_to(self, device: torch.device) -> None:
        """Move every cached tensor (and tensors in cached tuples/dicts) to `device`, once."""
        def moved(value: Any) -> Any:
            if isinstance(value, Tensor):
                return value.to(device)
            if isinstance(value, tuple) and hasattr(value, "_fields"):
                return type(value)(*(moved(v) for v in value))
            return value
        for key, value in list(vars(self).items()):
            setattr(self, key, moved(value))
        self.device = device


def fp32_maths(y: Tensor):
    """Autocast off for the objective's maths: called inside a bf16 autocast region (a stage that
    autocasts the embedder), the cost matrices and Sinkhorn's log-sum-exps would otherwise drop to
    bf16's 8-bit mantissa, which is far too coarse for exp(-C / eps)."""
    return torch.autocast(y.device.type, enabled=False)


def as_features(x: Any, name: str) -> Tensor:
    """A finite floating (n, d) tensor, or a DataError naming the problem and the fix."""
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as e:
            raise DataError(f"{name} must be a float tensor of shape (n, d); cannot convert it: {e}") from None
    if x.ndim != 2:
        raise DataError(f"{name} must have shape (n, d), got {tuple(x.shape)}; mean-pool tokens "
                        "(B, T, D) -> (B, D) before the objective")
    if not x.is_floating_point():
        raise DataError(f"{name} must be floating point, got {x.dtype}; convert with .float()")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise DataError(f"{name} needs at least 2 samples of at least 1 feature, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x.detach()).all()):
        bad = int((~torch.isfinite(x.detach())).any(1).sum())
        raise DataError(f"{name} contain NaN or inf in {bad} of {len(x)} samples; fix the inputs or lower "
                        "the learning rate if the embedder diverged")
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def as_labels(labels: Any, n: int, name: str) -> Tensor:
    """An integer (n,) tensor, or a DataError naming the problem and the fix."""
    labels = labels if isinstance(labels, Tensor) else torch.as_tensor(np.asarray(labels))
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise DataError(f"{name} must be integer class ids, got {labels.dtype}; use pseudo_labels() "
                        "for regression, dense or multi-label targets")
    if labels.shape != (n,):
        raise DataError(f"{name} must have shape ({n},) to match the features, got {tuple(labels.shape)}")
    return labels.long()


def check_class_sizes(classes: Tensor, counts: Tensor, side: str) -> None:
    small = classes[counts < 2]
    if len(small):
        raise DataError(f"{side} classes {small.tolist()[:10]} have fewer than 2 samples; an OT distance "
                        "between classes needs at least 2 per class: draw more samples per class, or drop "
                        "or merge those classes")


def positive_option(name: str, value: Any, *, below_one: bool = False) -> float:
    """A float option > 0 (and < 1 when `below_one`), or a ConfigError naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < (1 if below_one else float("inf"))
    if not ok:
        allowed = "a number in (0, 1)" if below_one else "a positive number"
        raise ConfigError(f"objective option {name} = {value!r} is not allowed; use {allowed}")
    return float(value)
