"""The refinement budget: steps sized to the data, a floor for small data, a cap for large data."""
import pytest

from orca_engine.config import RefineConfig
from orca_engine.stages.budget import auto_batch_size, refine_budget


@pytest.mark.parametrize("n_train, batch", [(5, 5), (40, 8), (100, 8), (160, 16), (320, 32), (50_000, 32)])
def test_batch_size_follows_the_training_set_size(n_train, batch):
    assert auto_batch_size(n_train) == batch


@pytest.mark.parametrize("n_train", [30, 40, 200, 1_200, 50_000])
def test_every_size_gets_at_least_the_floor_and_at_most_the_cap(n_train):
    cfg = RefineConfig()
    budget = refine_budget(cfg, n_train, n_val=max(2, n_train // 6))
    assert cfg.min_steps <= budget.total_steps <= cfg.max_steps
    assert budget.eval_every <= budget.total_steps and budget.patience >= budget.eval_every
    assert set(budget.reasons) == {"batch_size", "total_steps", "eval_every", "patience", "members"}


def test_a_forty_sample_set_gets_many_steps_not_sixteen():
    budget = refine_budget(RefineConfig(), n_train=40, n_val=8)
    assert budget.batch_size == 8 and budget.total_steps >= 300 and budget.epochs >= 50
    assert "raised to refine.min_steps" in budget.reasons["total_steps"]


def test_large_data_is_capped_and_validation_stays_affordable():
    budget = refine_budget(RefineConfig(), n_train=50_000, n_val=7_500)
    assert budget.total_steps == RefineConfig().max_steps and "capped" in budget.reasons["total_steps"]
    # validating 7,500 samples every few steps would cost more than training: checks get sparser
    assert budget.eval_every * budget.batch_size >= 7_500 / 3 / 0.25 - budget.batch_size


def test_explicit_epochs_and_batch_size_are_honoured():
    budget = refine_budget(RefineConfig(epochs=3, batch_size=10), n_train=100, n_val=20)
    assert (budget.batch_size, budget.steps_per_epoch, budget.total_steps) == (10, 10, 30)
    assert budget.reasons["total_steps"].startswith("refine.epochs = 3")


def test_patience_is_off_without_early_stopping_and_never_below_the_floor():
    assert refine_budget(RefineConfig(early_stopping=False), 100, 20).patience == 0
    budget = refine_budget(RefineConfig(patience=7, min_steps=50), 100, 20)
    assert budget.patience == 7 and budget.min_steps == 50
