"""Batched inference and the conversion of raw model outputs to the task's units.

Raw outputs are logits (classification, multi-label) or standardised targets (regression, dense:
the model is trained on (y - mean) / std of the training split, recorded in `build_info`).
"""
from __future__ import annotations

import numpy as np
import torch

from .contracts import BuildInfo


@torch.no_grad()
def model_outputs(model: torch.nn.Module, x: np.ndarray, batch_size: int = 256,
                  autocast_dtype: torch.dtype | None = None, precision: str | None = None) -> np.ndarray:
    """Raw outputs (fp32) for every row of `x`, in eval mode, batch by batch. Restores train mode after.

    `precision` (a config's "fp32", "bf16" or "auto") autocasts by the same rule as training
    (`hardware.autocast_dtype`); without it, `autocast_dtype` is used as given (None = fp32).
    """
    from .hardware import to_device
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if precision is not None:
        from .hardware import autocast_dtype as precision_dtype
        autocast_dtype = precision_dtype(precision, device)
    chunks = []
    try:
        for start in range(0, len(x), batch_size):
            xb = to_device(torch.as_tensor(np.ascontiguousarray(x[start:start + batch_size]), dtype=torch.float32),
                           device)  # pinned, non-blocking on CUDA
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                out = model(xb)
            chunks.append(out.float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(chunks) if chunks else np.zeros((0,), dtype=np.float32)


def to_task_units(raw: np.ndarray, build_info: BuildInfo) -> np.ndarray:
    """Class probabilities, label probabilities, or targets de-standardised to the data's units."""
    task = build_info.task
    if task == "classification":
        from .metrics import softmax
        return softmax(raw.astype(np.float64)).astype(np.float32)
    if task == "multilabel":
        from .metrics import sigmoid
        return sigmoid(raw.astype(np.float64)).astype(np.float32)
    mean = np.asarray(build_info.target_mean, dtype=np.float32)
    std = np.asarray(build_info.target_std, dtype=np.float32)
    return raw * std + mean


def predict_array(model: torch.nn.Module, x: np.ndarray, build_info: BuildInfo, batch_size: int = 256,
                  precision: str | None = None) -> np.ndarray:
    return to_task_units(model_outputs(model, x, batch_size, precision=precision), build_info)
