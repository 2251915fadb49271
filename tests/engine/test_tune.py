"""The tune stage: trials chosen on validation only, the defaults always tried first."""
import json

import numpy as np
import pytest

from orca_engine import data as data_module
from orca_engine.run_folder import RunFolder
from orca_engine.session import Session
from orca_engine.stages.tune import SEARCH_SPACE, _own_settings

pytestmark = pytest.mark.usefixtures("no_runs_in_background")  # runs compared bit for bit

CONFIG = {"data": {"source": "iris"}, "model": {"backbone": "tiny-bert"},
          "align": {"steps": 0, "source_samples": 60, "samples_per_class": 8, "projection_every": 0},
          "refine": {"min_steps": 6, "max_steps": 12},
          "evaluate": {"baselines": "linear"}, "tune": {"trials": 3, "trial_steps_scale": 0.05}}


def _tuned(tmp_path, name):
    session = Session(runs_dir=tmp_path / name, live_projection=False)
    run = session.start(CONFIG, stages=("tune", "evaluate"))
    status = session.wait(run, timeout=600)
    assert status.state == "finished", status.error
    return session.run_dir(run)


def _poisoned(load):
    def load_poisoned(cfg, seed):
        ds = load(cfg, seed)
        rng = np.random.default_rng(7)
        ds.x_test = rng.normal(0, 5, ds.x_test.shape).astype(np.float32)
        ds.y_test = rng.permutation(ds.y_test)
        return ds
    return load_poisoned


def test_tuning_tries_the_defaults_first_and_never_looks_at_test(tmp_path, monkeypatch):
    clean = _tuned(tmp_path, "clean")
    monkeypatch.setattr(data_module, "load_dataset", _poisoned(data_module.load_dataset))
    poisoned = _tuned(tmp_path, "poisoned")
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (clean, poisoned))
    trials = [e for e in RunFolder(clean).read_events() if e["type"] == "trial"]
    assert [t["trial"] for t in trials] == [1, 2, 3]
    from orca_engine.config import RunConfig
    assert trials[0]["params"] == _own_settings(RunConfig.from_dict(CONFIG))
    assert set(trials[1]["params"]) == {s.name for s in SEARCH_SPACE}
    assert a["tune"]["best_params"] == b["tune"]["best_params"]
    assert [t["value"] for t in a["tune"]["trials"]] == [t["value"] for t in b["tune"]["trials"]]
    assert a["validation"] == b["validation"] and a["test"] != b["test"]
    best = a["tune"]["best_trial"]
    # the default rule selects on accuracy (higher is better), the loss only breaking ties
    assert a["tune"]["trials"][best - 1]["value"] == max(t["value"] for t in a["tune"]["trials"])


def test_a_trial_budget_in_seconds_stops_starting_trials(tmp_path):
    session = Session(runs_dir=tmp_path, live_projection=False)
    cfg = {**CONFIG, "tune": {"trials": 50, "max_seconds": 10.0, "trial_steps_scale": 0.05}}
    run = session.start(cfg, stages=("tune", "evaluate"))
    status = session.wait(run, timeout=600)
    assert status.state == "finished", status.error
    events = session.events(run)
    trials = [e for e in events if e["type"] == "trial"]
    assert 1 <= len(trials) < 50
    assert any(e["type"] == "warning" and "tune.max_seconds" in e["message"] for e in events)
