"""Task losses and metrics, as registries keyed by task type.

Every task has one *selection* metric (used for early stopping and checkpoint choice on the
validation split) and a set of reported metrics. Metrics take numpy arrays and return floats.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .registry import Registry


@dataclass(frozen=True)
class TaskMetrics:
    """What is reported for a task type and which metric selects checkpoints."""
    selection: str  # key in the dict returned by `compute`
    higher_is_better: bool
    compute: Callable[[np.ndarray, np.ndarray], dict[str, float]]  # (y_true, model_output) -> metrics


TASK_METRICS: Registry[TaskMetrics] = Registry("task type")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def classification_metrics(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and (one-vs-rest macro) AUROC from logits (N, K) and labels (N,)."""
    from sklearn.metrics import f1_score, roc_auc_score
    y_true = np.asarray(y_true).astype(int)
    probs = softmax(np.asarray(logits, dtype=np.float64))
    pred = probs.argmax(axis=1)
    out = {"accuracy": float((pred == y_true).mean()),
           "macro_f1": float(f1_score(y_true, pred, average="macro", labels=np.arange(probs.shape[1]),
                                      zero_division=0))}
    present = np.unique(y_true)
    if len(present) >= 2:
        try:
            if probs.shape[1] == 2:
                out["auroc"] = float(roc_auc_score(y_true, probs[:, 1]))
            else:
                out["auroc"] = float(roc_auc_score(y_true, probs[:, present] / probs[:, present].sum(1, keepdims=True),
                                                   multi_class="ovr", labels=present))
        except ValueError:
            pass  # e.g. a class present in y_true but with constant scores: AUROC undefined
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, MAE and R^2 (averaged over output dimensions) in the target's original units."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    err = y_pred - y_true
    ss_res = (err ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)
    return {"mse": float((err ** 2).mean()), "mae": float(np.abs(err).mean()),
            "r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan")}


def multilabel_metrics(y_true: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """Micro/macro F1 at threshold 0.5 and macro AUROC / mAP over labels with both values present."""
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
    y_true = np.asarray(y_true).astype(int)
    probs = sigmoid(np.asarray(logits, dtype=np.float64))
    pred = (probs >= 0.5).astype(int)
    out = {"micro_f1": float(f1_score(y_true, pred, average="micro", zero_division=0)),
           "macro_f1": float(f1_score(y_true, pred, average="macro", zero_division=0)),
           "subset_accuracy": float((pred == y_true).all(axis=1).mean())}
    both = [k for k in range(y_true.shape[1]) if 0 < y_true[:, k].sum() < len(y_true)]
    if both:
        out["macro_auroc"] = float(np.mean([roc_auc_score(y_true[:, k], probs[:, k]) for k in both]))
        out["map"] = float(np.mean([average_precision_score(y_true[:, k], probs[:, k]) for k in both]))
    return out


def dense_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Relative L2 error ||pred - true|| / ||true|| per sample, averaged (the PDE benchmarks' metric), and MSE."""
    t = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    rel = np.linalg.norm(p - t, axis=1) / np.maximum(np.linalg.norm(t, axis=1), 1e-12)
    return {"relative_l2": float(rel.mean()), "mse": float(((p - t) ** 2).mean())}


TASK_METRICS.register("classification", TaskMetrics("accuracy", True, classification_metrics))
TASK_METRICS.register("regression", TaskMetrics("mse", False, regression_metrics))
TASK_METRICS.register("multilabel", TaskMetrics("micro_f1", True, multilabel_metrics))
TASK_METRICS.register("dense", TaskMetrics("relative_l2", False, dense_metrics))


def is_improvement(task: str, value: float, best: float | None) -> bool:
    """Whether `value` of the task's selection metric beats `best` (None: anything finite does)."""
    if not np.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if TASK_METRICS.get(task).higher_is_better else value < best


def confusion_matrix(y_true: np.ndarray, logits: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts: rows true class, columns predicted class."""
    pred = np.asarray(logits).argmax(axis=1)
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true).astype(int), pred), 1)
    return m


def per_class_figures(matrix: np.ndarray, class_names: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    rows = []
    for k, name in enumerate(class_names):
        tp = float(matrix[k, k])
        support = float(matrix[k].sum())
        predicted = float(matrix[:, k].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": name, "precision": precision, "recall": recall, "f1": f1, "support": int(support)})
    return rows
