"""Tuning trials as Ray tasks (tune.executor = ray): the same trials as the serial search, run two at
a time on a local Ray, and the best trial's model comes back to be scored."""
import json

import pytest

from orca_engine.session import Session
from orca_engine.stages.tune import trial_runner

pytestmark = pytest.mark.usefixtures("no_runs_in_background")

CONFIG = {"data": {"source": "iris"}, "model": {"backbone": "tiny-bert"},
          "align": {"steps": 0, "source_samples": 60, "samples_per_class": 8, "projection_every": 0},
          "refine": {"min_steps": 6, "max_steps": 12},
          "evaluate": {"baselines": "none"}, "tune": {"trials": 3, "trial_steps_scale": 0.05}}


def _tuned(folder, config):
    session = Session(runs_dir=folder, live_projection=False)
    run = session.start(config, stages=("tune", "evaluate"))
    status = session.wait(run, timeout=900)
    assert status.state == "finished", status.error
    return json.loads((session.run_dir(run) / "metrics.json").read_text())


def test_an_unknown_tune_executor_says_what_is_allowed():
    from orca_engine.errors import ConfigError
    with pytest.raises(ConfigError, match="ray"):
        trial_runner("spark", None)
    from orca_engine.config import RunConfig
    with pytest.raises(ConfigError, match="tune.executor = 'spark' is not known"):  # refused with the config
        RunConfig.from_dict({"tune": {"executor": "spark"}})


def test_ray_trials_equal_the_serial_trials_and_bring_the_best_model_back(tmp_path):
    ray = pytest.importorskip("ray")
    serial = _tuned(tmp_path / "serial", CONFIG)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        fanned = _tuned(tmp_path / "ray", {**CONFIG, "tune": {**CONFIG["tune"], "executor": "ray"}})
    finally:
        ray.shutdown()
    a, b = serial["tune"], fanned["tune"]
    assert b["executor"] == "ray" and b["parallel_trials"] == 2 and a["parallel_trials"] == 1
    assert [t["trial"] for t in b["trials"]] == [1, 2, 3]
    # the sampler's first trials do not depend on results, so both searches tried the same settings
    assert [t["params"] for t in a["trials"]] == [t["params"] for t in b["trials"]]
    assert [t["value"] for t in b["trials"]] == pytest.approx([t["value"] for t in a["trials"]], abs=1e-4)
    assert b["best_trial"] == a["best_trial"]
    # the best trial's model came back from its task and was scored on test once
    assert fanned["test"]["accuracy"] == pytest.approx(serial["test"]["accuracy"], abs=0.02)
