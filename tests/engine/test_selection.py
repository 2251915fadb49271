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


# -- the weight soup (refine.soup) ----------------------------------------------------------------

def _weights(value):
    import torch
    return {"w": torch.full((2, 2), float(value)), "ids": torch.tensor([1, 2])}


class _Tiny:
    def __init__(self, value):
        self.value = value

    def state_dict(self):
        return _weights(self.value)


def test_soup_candidates_keep_the_best_few_in_the_selectors_order():
    from orca_engine.stages.refine import SoupCandidates
    c = SoupCandidates("regression", size=2)
    for step, mse in ((1, 3.0), (2, 1.0), (3, 2.0), (4, 5.0)):
        c.offer(step, mse, {"mse": mse}, _Tiny(step))
    assert [step for _, step, _ in c.items] == [2, 3]  # lowest MSE first, at most `size`
    assert float(c.items[0][2]["w"][0, 0]) == 2.0
    by_loss = SoupCandidates("classification", select_on="loss", size=3)
    by_loss.offer(1, 0.5, {"accuracy": 0.5}, _Tiny(1))
    by_loss.offer(2, 0.9, {"accuracy": 0.9}, _Tiny(2))
    assert [step for _, step, _ in by_loss.items] == [1, 2]  # the loss decides first under select_on=loss


def test_averaged_weights_average_floats_and_keep_integer_buffers():
    from orca_engine.stages.refine import averaged_weights
    avg = averaged_weights([_weights(1), _weights(3)])
    assert float(avg["w"][1, 1]) == 2.0 and avg["ids"].tolist() == [1, 2]


def test_greedy_soup_adds_a_checkpoint_only_when_validation_does_not_get_worse():
    from orca_engine.stages.refine import SoupCandidates, greedy_soup
    c = SoupCandidates("regression", size=3)
    for step, value in ((1, 0.0), (2, 2.0), (3, 100.0)):
        c.offer(step, 1.0, {"mse": 1.0 + step / 10}, _Tiny(value))

    def score(weights):  # validation MSE of the averaged weight: best near 1.0, bad far from it
        mse = (float(weights["w"][0, 0]) - 1.0) ** 2
        return c.rank(mse, {"mse": mse}), mse, {"mse": mse}, None
    soup, report = greedy_soup(c, score)
    assert report["steps"] == [1, 2]  # 0 and 2 average to 1.0 (MSE 0); adding 100 would ruin it
    assert float(soup["w"][0, 0]) == 1.0 and report["validation"]["mse"] == 0.0 and report["tried"] == 3


def test_a_regression_run_records_its_soup(tmp_path):
    import json

    from orca_engine.session import Session
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "diabetes", "train_fraction": 0.2}, "model": {"backbone": "tiny-bert"},
                         "align": {"steps": 0}, "evaluate": {"baselines": "none"},
                         "refine": {"epochs": 3, "batch_size": 8, "eval_every": 2}})
    status = session.wait(run, timeout=300)
    assert status.state == "finished", status.error
    metrics = json.loads((session.run_dir(run) / "metrics.json").read_text())
    soup = metrics["refine"]["soup"]
    assert soup["candidates"] == 4 and soup["steps"] and soup["note"]
    assert metrics["validation"]["mse"] <= soup["best_single_validation"] + 1e-9  # never worse than one checkpoint
    assert metrics["refine"]["best_validation"] == metrics["validation"]["mse"]


def test_last_rule_keeps_every_newer_checkpoint():
    s = CheckpointSelector("classification", "last")
    assert s.offer(10, 0.5, {"accuracy": 0.9})
    assert s.offer(20, 2.0, {"accuracy": 0.1}) and s.step == 20 and s.value == 0.1


def test_auto_selection_keeps_the_last_weights_only_for_a_small_classification_validation_split():
    from orca_engine.stages.refine import SMALL_VALIDATION, selection_rule
    rule, why = selection_rule("auto", "classification", SMALL_VALIDATION - 1)
    assert rule == "last" and str(SMALL_VALIDATION - 1) in why
    assert selection_rule("auto", "classification", SMALL_VALIDATION)[0] == "metric"
    assert selection_rule("auto", "regression", 8)[0] == "metric"  # a regression run averages its best instead
    assert selection_rule("loss", "classification", 8) == ("loss", "refine.select_on = loss")


def test_a_small_classification_run_keeps_its_last_weights_and_says_why(tmp_path):
    import json

    from orca_engine.session import Session
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "iris"},  # 150 rows: a validation split of about 22
                         "model": {"backbone": "tiny-bert"}, "align": {"steps": 0}, "evaluate": {"baselines": "none"},
                         "refine": {"epochs": 3, "batch_size": 8, "eval_every": 3}})
    status = session.wait(run, timeout=300)
    assert status.state == "finished", status.error
    metrics = json.loads((session.run_dir(run) / "metrics.json").read_text())
    refine = metrics["refine"]
    assert refine["selected_on"] == "last" and "validation samples" in refine["selection_reason"]
    assert refine["best_step"] == refine["steps"]
