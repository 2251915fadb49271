"""Which validation checkpoint is kept: loss first (ties to the metric), or the metric (ties to the loss)."""
import math

from orca_engine.stages.refine import CheckpointSelector


def test_loss_rule_prefers_lower_loss_even_at_equal_accuracy():
    s = CheckpointSelector("classification", "loss")
    assert s.offer(10, 1.0, {"accuracy": 0.5})
    assert s.offer(20, 0.8, {"accuracy": 0.5}) and s.step == 20
    assert not s.offer(30, 0.9, {"accuracy": 0.75})  # higher loss loses, whatever the coarse accuracy says


def test_loss_rule_breaks_near_ties_with_the_metric():
    s = CheckpointSelector("classification", "loss")
    s.offer(10, 1.000, {"accuracy": 0.5})
    assert s.offer(20, 1.002, {"accuracy": 0.625})  # within 0.5%: the better accuracy wins
    assert not s.offer(30, 1.001, {"accuracy": 0.5})


def test_metric_rule_breaks_ties_with_the_loss():
    s = CheckpointSelector("classification", "metric")
    s.offer(10, 1.0, {"accuracy": 0.5})
    assert not s.offer(20, 0.5, {"accuracy": 0.4})
    assert s.offer(30, 0.9, {"accuracy": 0.5}) and s.step == 30
    assert s.offer(40, 2.0, {"accuracy": 0.6})


def test_regression_lower_is_better_and_non_finite_never_wins():
    s = CheckpointSelector("regression", "metric")
    s.offer(1, math.nan, {"mse": 2.0})
    assert s.offer(2, math.nan, {"mse": 1.0}) and not s.offer(3, math.nan, {"mse": math.nan})
    loss_rule = CheckpointSelector("classification", "loss")
    loss_rule.offer(1, 0.7, {"accuracy": 0.5})
    assert not loss_rule.offer(2, math.inf, {"accuracy": 0.5}) and not loss_rule.offer(3, math.nan, {"accuracy": 0.4})
