import numpy as np
import pytest

from orca_engine.metrics import (TASK_METRICS, confusion_matrix, is_improvement, per_class_figures)


def test_classification_metrics_on_perfect_and_wrong_predictions():
    y = np.array([0, 1, 2, 2])
    perfect = np.eye(3)[y] * 10
    m = TASK_METRICS.get("classification").compute(y, perfect)
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0 and m["auroc"] == 1.0
    wrong = np.eye(3)[(y + 1) % 3] * 10
    assert TASK_METRICS.get("classification").compute(y, wrong)["accuracy"] == 0.0


def test_regression_and_dense_metrics_match_definitions():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    m = TASK_METRICS.get("regression").compute(y, y + 1)
    assert m["mse"] == pytest.approx(1.0) and m["mae"] == pytest.approx(1.0)
    assert m["r2"] == pytest.approx(1 - 4 / 5)
    field = np.ones((2, 1, 4))
    d = TASK_METRICS.get("dense").compute(field, field * 1.1)
    assert d["relative_l2"] == pytest.approx(0.1)


def test_multilabel_metrics():
    y = np.array([[1, 0], [0, 1], [1, 1]])
    m = TASK_METRICS.get("multilabel").compute(y, np.where(y == 1, 5.0, -5.0))
    assert m["micro_f1"] == 1.0 and m["subset_accuracy"] == 1.0


def test_selection_direction_per_task():
    assert is_improvement("classification", 0.9, 0.8) and not is_improvement("classification", 0.7, 0.8)
    assert is_improvement("regression", 0.1, 0.2) and not is_improvement("regression", float("nan"), None)


def test_confusion_matrix_and_per_class():
    y = np.array([0, 0, 1, 1])
    logits = np.array([[1, 0], [0, 1], [0, 1], [0, 1]])
    m = confusion_matrix(y, logits, 2)
    assert m.tolist() == [[1, 1], [0, 2]]
    rows = per_class_figures(m, ["a", "b"])
    assert rows[0]["recall"] == 0.5 and rows[1]["precision"] == pytest.approx(2 / 3)
