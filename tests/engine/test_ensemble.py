"""Seed ensembles (refine.members): who gets one, how its prediction is formed, and a whole run
that trains, saves, reloads and predicts as one model."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from orca_engine.config import RefineConfig
from orca_engine.model import OrcaEnsemble
from orca_engine.runs import load_run
from orca_engine.session import Session
from orca_engine.stages.augment import AUTO_MIN_EPOCHS
from orca_engine.stages.budget import AUTO_MEMBERS, ensemble_members, refine_budget


def test_small_data_gets_several_members_and_large_data_one():
    small = refine_budget(RefineConfig(), n_train=40, n_val=8, task="classification")
    assert small.members == AUTO_MEMBERS > 1 and small.all_steps == AUTO_MEMBERS * small.total_steps
    assert "small data" in small.reasons["members"]
    large = refine_budget(RefineConfig(), n_train=20_000, n_val=3_000, task="classification")
    assert large.members == 1 and large.all_steps == large.total_steps and large.epochs < AUTO_MIN_EPOCHS
    assert refine_budget(RefineConfig(), n_train=40, n_val=8, task="dense").members == 1
    forced = refine_budget(RefineConfig(members=2), n_train=20_000, n_val=3_000)
    assert forced.members == 2 and forced.reasons["members"] == "refine.members = 2"
    assert ensemble_members(1, "regression", epochs=500.0)[0] == 1  # one model, asked for


class _Fixed(nn.Module):
    def __init__(self, out):
        super().__init__()
        self.out = torch.as_tensor(out, dtype=torch.float32)
        self.test_time_shift = 0.0

    def forward(self, x):
        return self.out.expand(len(x), *self.out.shape)


def test_the_ensemble_predicts_the_mean_probability_of_its_members():
    a, b = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([-3.0, 1.0, 0.5])
    x = torch.zeros(4, 1)
    logits = OrcaEnsemble([_Fixed(a), _Fixed(b)], "classification")(x)
    expected = (torch.softmax(a, 0) + torch.softmax(b, 0)) / 2
    assert torch.allclose(torch.softmax(logits, -1), expected.expand(4, 3), atol=1e-6)
    multi = OrcaEnsemble([_Fixed(a), _Fixed(b)], "multilabel")(x)
    assert torch.allclose(torch.sigmoid(multi), ((torch.sigmoid(a) + torch.sigmoid(b)) / 2).expand(4, 3), atol=1e-5)
    assert torch.allclose(OrcaEnsemble([_Fixed(a), _Fixed(b)], "regression")(x), ((a + b) / 2).expand(4, 3))
    ensemble = OrcaEnsemble([_Fixed(a), _Fixed(b)], "classification")
    ensemble.test_time_shift = 0.05  # test-time shifts reach every member
    assert all(m.test_time_shift == 0.05 for m in ensemble.members)


def test_a_run_with_members_trains_each_saves_one_model_and_reloads_it(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "breast_cancer", "train_fraction": 0.3}, "model": {"backbone": "tiny-bert"},
                         "align": {"steps": 0}, "evaluate": {"baselines": "none"},
                         "refine": {"epochs": 2, "batch_size": 16, "members": 2}})
    status = session.wait(run, timeout=300)
    assert status.state == "finished", status.error
    folder = session.run_dir(run)
    metrics = json.loads((folder / "metrics.json").read_text())
    ensemble, per_epoch = metrics["refine"]["ensemble"], metrics["refine_budget"]["steps_per_epoch"]
    assert ensemble["members"] == 2 and len(ensemble["member_results"]) == 2
    assert metrics["refine"]["steps"] == 2 * 2 * per_epoch  # both members ran their whole budget
    assert metrics["validation"]["accuracy"] == ensemble["validation"]["accuracy"]  # the ensemble is what is scored
    steps = [e["step"] for e in session.events(run) if e["type"] == "step" and e["stage"] == "refine"]
    assert steps == list(range(1, 4 * per_epoch + 1))  # one live curve, numbered on across members
    assert json.loads((folder / "model.json").read_text())["members"] == 2
    loaded = load_run(folder)
    assert isinstance(loaded.model, OrcaEnsemble) and len(loaded.model.members) == 2
    first, second = (dict(m.named_parameters()) for m in loaded.model.members)
    assert any(not torch.equal(first[k], second[k]) for k in first)  # two different models, not one twice
    from orca_engine.config import RunConfig
    from orca_engine.data import load_dataset
    ds = load_dataset(RunConfig.from_dict({"data": {"source": "breast_cancer", "train_fraction": 0.3}}).data, seed=0)
    np.testing.assert_allclose(session.predict(run, ds.x_test[:16]), loaded.predict(ds.x_test[:16]),
                               rtol=1e-4, atol=1e-5)


def test_a_time_limit_after_the_first_member_leaves_one_plain_model(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "iris"}, "model": {"backbone": "tiny-bert"},
                         "align": {"steps": 0}, "evaluate": {"baselines": "none"},
                         "refine": {"epochs": 2, "batch_size": 16, "members": 3, "max_seconds": 0.001}})
    status = session.wait(run, timeout=300)
    assert status.state == "finished", status.error
    folder = session.run_dir(run)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["refine"]["ensemble"]["members"] == 1 and metrics["refine"]["stopped_by"] == "time limit"
    assert "members" not in json.loads((folder / "model.json").read_text())
    assert not isinstance(load_run(folder).model, OrcaEnsemble)  # saved and reloaded as the one model it is


def test_refining_an_ensemble_again_is_refused_with_a_reason(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "iris"}, "model": {"backbone": "tiny-bert"},
                         "align": {"steps": 0}, "evaluate": {"baselines": "none"},
                         "refine": {"epochs": 1, "batch_size": 16, "members": 2}}, stages=("align", "refine"))
    assert session.wait(run, timeout=300).state == "idle"
    session.continue_run(run, stages=("refine", "evaluate"))
    status = session.wait(run, timeout=300)
    assert status.state == "failed" and "already the average of 2 refined models" in status.error
