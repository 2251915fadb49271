"""Warnings that save a user's time: one class, chance level, a loss that never falls."""
import numpy as np

from orca_engine.diagnostics import chance_warning, loss_not_falling_warning, majority_rate, one_class_warning


def test_one_class_predictions_are_named():
    y = np.array([0, 1] * 10)
    logits = np.tile([[2.0, 0.0]], (20, 1))
    message = one_class_warning(logits, y, ["cat", "dog"], "validation")
    assert message and "'cat'" in message and "20 of 20" in message
    assert one_class_warning(np.eye(2)[y] * 3, y, ["cat", "dog"], "validation") is None
    assert one_class_warning(logits, np.zeros(20, int), ["cat", "dog"], "test") is None  # truly one class


def test_chance_level_accuracy_and_r2_are_flagged_with_a_suggestion():
    y_train, y_val = np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1])
    assert majority_rate(y_train, y_val) == 0.5
    assert "refine.min_steps" in chance_warning("classification", {"accuracy": 0.5}, y_train, y_val, "validation")
    assert chance_warning("classification", {"accuracy": 0.75}, y_train, y_val, "validation") is None
    assert "R²" in chance_warning("regression", {"r2": -0.1}, y_train, y_val, "validation")
    assert chance_warning("regression", {"r2": 0.4}, y_train, y_val, "validation") is None


def test_a_flat_or_rising_loss_is_flagged_a_falling_one_is_not():
    assert loss_not_falling_warning([1.0] * 50)
    assert loss_not_falling_warning(list(np.linspace(1, 2, 50)))
    assert loss_not_falling_warning(list(np.linspace(2, 0.5, 50))) is None
    assert loss_not_falling_warning([1.0] * 5) is None  # too short to judge
