"""Warnings that save a user's time: a model that learned nothing is said to have learned nothing.

Pure functions over numbers a run already has. Each returns a message with a concrete next step,
or None when all is well. Stages emit them as `WarningRaised` events; the CLI prints them and the
app shows them beside the result.
"""
from __future__ import annotations

import numpy as np

ONE_CLASS_SHARE = 0.95  # predictions this concentrated on one class count as "predicts one class"
LOSS_FALL_SHARE = 0.05  # the training loss must fall by at least this share from start to end


def majority_rate(y_train: np.ndarray, y_eval: np.ndarray) -> float:
    """Accuracy on `y_eval` of always predicting the most frequent training class."""
    if len(y_eval) == 0 or len(y_train) == 0:
        return float("nan")
    majority = np.bincount(np.asarray(y_train, dtype=np.int64)).argmax()
    return float((np.asarray(y_eval) == majority).mean())


def one_class_warning(logits: np.ndarray, y_true: np.ndarray, class_names: list[str], split: str) -> str | None:
    """When nearly all predictions are one class although the true labels are not."""
    if len(y_true) < 4:
        return None
    pred = np.asarray(logits).argmax(axis=1)
    counts = np.bincount(pred, minlength=np.asarray(logits).shape[1])
    top = int(counts.argmax())
    true_share = np.bincount(np.asarray(y_true, dtype=np.int64)).max() / len(y_true)
    if counts[top] / len(pred) < ONE_CLASS_SHARE or true_share >= ONE_CLASS_SHARE:
        return None
    name = class_names[top] if top < len(class_names) else str(top)
    return (f"the model predicts one class ({name!r}) for {counts[top]} of {len(pred)} {split} samples: it has "
            "collapsed to the majority. Try a lower refine.lr, more steps (refine.min_steps), "
            "refine.class_weights for imbalanced classes, or --tune.")


def chance_warning(task: str, metrics: dict[str, float], y_train: np.ndarray, y_eval: np.ndarray,
                   split: str) -> str | None:
    """When the selection metric is no better than a trivial predictor."""
    if task == "classification" and "accuracy" in metrics:
        chance = majority_rate(y_train, y_eval)
        if metrics["accuracy"] <= chance + 1e-9:
            return (f"{split} accuracy {metrics['accuracy']:.3f} is no better than always predicting the most "
                    f"frequent class ({chance:.3f}). Check the baselines beside the result; try more steps "
                    "(refine.min_steps), a lower refine.lr, another backbone, or --tune.")
    if task == "regression" and np.isfinite(metrics.get("r2", np.nan)) and metrics["r2"] <= 0.0:
        return (f"{split} R² is {metrics['r2']:.3f}: no better than predicting the training mean. Try more steps "
                "(refine.min_steps), a lower refine.lr, or --tune, and check the baselines.")
    return None


def loss_not_falling_warning(losses: list[float]) -> str | None:
    """When the training loss at the end of refinement is not clearly below where it started."""
    finite = [v for v in losses if np.isfinite(v)]
    if len(finite) < 20:
        return None
    tenth = max(2, len(finite) // 10)
    first, last = float(np.mean(finite[:tenth])), float(np.mean(finite[-tenth:]))
    if last < first * (1 - LOSS_FALL_SHARE):
        return None
    return (f"the training loss did not fall (mean {first:.4g} over the first steps, {last:.4g} over the last): "
            "if it rose, lower refine.lr (or raise refine.grad_clip's protection by lowering it); if it stayed "
            "flat, raise refine.lr or refine.new_layers_lr_scale.")
