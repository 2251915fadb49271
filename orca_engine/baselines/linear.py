"""Linear baselines on flattened inputs: what a pretrained transformer has to beat first.

    result = classical_baseline(dataset)      # fitted on dataset.x_train only
    result.test, result.validation, result.choice

Classification: multinomial logistic regression. Multi-label: one logistic regression per label.
Regression and dense targets: ridge regression on the flattened target. The regularisation
strength is chosen on the validation split (the task's selection metric); the test split is
scored once, with the chosen model. Inputs are already standardised by `load_dataset` with
training-split statistics, so no further scaling is fitted here.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import DataError
from ..metrics import TASK_METRICS, is_improvement
from .result import BaselineResult

# Inverse regularisation C (logistic) and penalty alpha (ridge), searched on the validation split.
LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)
RIDGE_ALPHA = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
MAX_ITER = 300  # lbfgs; an unconverged fit is judged by its validation score like any other


@dataclass(frozen=True)
class _Family:
    """One kind of classical model: how to build it for a setting, and how to score its outputs."""
    model: str
    parameter: str
    settings: tuple[float, ...]
    fit: Callable[[float, np.ndarray, np.ndarray, int], Any]  # (setting, x, y, seed) -> fitted predictor
    outputs: Callable[[Any, np.ndarray], np.ndarray]  # (fitted, x) -> what TASK_METRICS.compute expects


def flattened(x: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N, F) float64: every input value becomes one feature."""
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def classical_baseline(dataset, seed: int = 0) -> BaselineResult:
    """Fit the task's classical model on the training split; choose its setting on validation.

    dataset: an `orca_engine.data.Dataset` (only x_train/y_train are fitted on; x_val/y_val choose
    the setting; x_test/y_test are scored once at the end).
    """
    family = family_for(dataset.task, dataset.num_outputs)
    started = time.perf_counter()
    x_train, x_val = flattened(dataset.x_train), flattened(dataset.x_val)
    metrics = TASK_METRICS.get(dataset.task)
    best, best_value, best_val, searched = None, None, {}, {}
    for setting in family.settings:
        fitted = family.fit(setting, x_train, dataset.y_train, seed)
        val = metrics.compute(dataset.y_val, family.outputs(fitted, x_val))
        value = val.get(metrics.selection, float("nan"))
        searched[str(setting)] = value
        if is_improvement(dataset.task, value, best_value):
            best, best_value, best_val, choice = fitted, value, val, setting
    if best is None:
        raise DataError(f"every {family.model} setting gave a non-finite validation {metrics.selection}; "
                        "check the data for constant or extreme features")
    test = metrics.compute(dataset.y_test, family.outputs(best, flattened(dataset.x_test)))
    return BaselineResult(family.model, family.parameter, float(choice), best_val, test, searched,
                          time.perf_counter() - started, len(x_train))


# -- the families ---------------------------------------------------------------------------------

def _fit_logistic(c: float, x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the validation score judges the fit
        return LogisticRegression(C=c, max_iter=MAX_ITER, random_state=seed).fit(x, np.asarray(y, dtype=np.int64))


def _class_log_probabilities(fitted, x: np.ndarray) -> np.ndarray:
    """(N, K) log-probabilities over *all* classes (a class absent from training gets -inf-ish)."""
    logp = np.full((len(x), fitted.n_classes_total), -30.0)
    logp[:, fitted.classes_] = np.log(np.clip(fitted.predict_proba(x), np.exp(-30.0), 1.0))
    return logp  # softmax(log p) = p, so metrics that expect logits read them unchanged


def _fit_logistic_all_classes(num_classes: int):
    def fit(c: float, x: np.ndarray, y: np.ndarray, seed: int):
        fitted = _fit_logistic(c, x, y, seed)
        fitted.n_classes_total = num_classes
        return fitted
    return fit


class _PerLabel:
    """One logistic regression per label; a label constant in training predicts that constant."""

    def __init__(self, c: float, x: np.ndarray, y: np.ndarray, seed: int):
        y = np.asarray(y, dtype=np.int64).reshape(len(y), -1)
        self.models = [(_fit_logistic(c, x, y[:, k], seed) if 0 < y[:, k].sum() < len(y) else float(y[0, k]))
                       for k in range(y.shape[1])]

    def logits(self, x: np.ndarray) -> np.ndarray:
        columns = [m.decision_function(x) if not isinstance(m, float) else np.full(len(x), 30.0 if m else -30.0)
                   for m in self.models]
        return np.stack(columns, axis=1)  # (N, K)


def _fit_ridge(alpha: float, x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.linear_model import Ridge
    target = np.asarray(y, dtype=np.float64)
    fitted = Ridge(alpha=alpha).fit(x, target.reshape(len(target), -1))
    fitted.target_shape = target.shape[1:]
    return fitted


def _ridge_outputs(fitted, x: np.ndarray) -> np.ndarray:
    return fitted.predict(x).reshape(len(x), *fitted.target_shape)


def family_for(task: str, num_outputs: int) -> _Family:
    """The classical model of a task type (`num_outputs` = classes for classification)."""
    if task == "classification":
        return _Family("logistic regression", "C", LOGISTIC_C, _fit_logistic_all_classes(num_outputs),
                       _class_log_probabilities)
    if task == "multilabel":
        return _Family("per-label logistic regression", "C", LOGISTIC_C,
                       lambda c, x, y, seed: _PerLabel(c, x, y, seed), lambda m, x: m.logits(x))
    if task in ("regression", "dense"):
        return _Family("ridge regression", "alpha", RIDGE_ALPHA, _fit_ridge, _ridge_outputs)
    raise DataError(f"no classical baseline for task {task!r}; have: classification, multilabel, regression, dense")
