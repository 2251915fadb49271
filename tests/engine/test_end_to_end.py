"""The whole workflow on real stages: tiny random backbones for speed, MiniLM for the headline check."""
import json
import subprocess
import sys

import numpy as np
import pytest

from orca_engine.run_folder import RunFolder
from orca_engine.runs import load_run
from orca_engine.session import Session

FAST = {"align": {"steps": 4, "source_samples": 60, "samples_per_class": 8, "projection_every": 2,
                  "projection_points": 40},
        "refine": {"epochs": 1, "batch_size": 64}, "evaluate": {"baselines": "linear"}}


def _config(source, backbone="tiny-bert", **extra):
    cfg = {"data": {"source": source, "train_fraction": 0.3}, "model": {"backbone": backbone}, **FAST}
    for key, value in extra.items():
        cfg.setdefault(key, {}).update(value)
    return cfg


def _run(session, cfg, stages=("align", "refine", "evaluate")):
    run = session.start(cfg, stages=stages)
    status = session.wait(run, timeout=240)
    assert status.state in ("finished", "idle"), status.error
    return run, status


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return Session(runs_dir=tmp_path_factory.mktemp("runs"), cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("source", ["digits", "breast_cancer", "diabetes", "synthetic-signals", "heat-1d"])
def test_every_example_runs_end_to_end_on_a_tiny_backbone(session, source):
    from orca_engine.data import EXAMPLES
    if source not in EXAMPLES:
        pytest.fail(f"example {source!r} is not registered; have: {list(EXAMPLES)}")
    run, status = _run(session, _config(source))
    metrics = json.loads((session.run_dir(run) / "metrics.json").read_text())
    assert metrics["test"] and all(np.isfinite(v) for v in metrics["test"].values())
    assert np.isfinite(metrics["align"]["otdd_before"]) and np.isfinite(metrics["align"]["otdd_after"])
    types = [e["type"] for e in RunFolder(session.run_dir(run)).read_events()]
    assert types.count("step") >= 4 and "projection" in types and types[-1] == "finished"
    align_steps = [e for e in session.events(run) if e["type"] == "step" and e["stage"] == "align"]
    assert all("loss" in e and np.isfinite(e["loss"]) for e in align_steps)


def test_reloaded_run_predicts_like_the_in_memory_model(session):
    run, _ = _run(session, _config("digits"))
    from orca_engine.data import load_dataset
    from orca_engine.config import RunConfig
    ds = load_dataset(RunConfig.from_dict(_config("digits")).data, seed=0)
    in_memory = session.predict(run, ds.x_test[:20])
    reloaded = load_run(session.run_dir(run)).predict(ds.x_test[:20])
    np.testing.assert_allclose(in_memory, reloaded, rtol=1e-4, atol=1e-5)


def test_alignment_lowers_the_objective(session):
    cfg = _config("digits", align={"steps": 25, "lr": 1e-2, "plateau_steps": 0})
    run, status = _run(session, cfg, stages=("align",))
    m = session.status(run).metrics["align"]
    assert m["objective_after"] < 0.9 * m["objective_before"], m


def test_cli_run_predict_and_evaluate(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "orca_engine", "run", "--data", "breast_cancer", "--backbone", "tiny-bert",
           "--align-steps", "3", "--align-source-samples", "60", "--align-samples-per-class", "8",
           "--refine-epochs", "1", "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run_dir = done.stdout.strip().splitlines()[-1]
    assert (tmp_path / "runs").exists() and run_dir.startswith(str(out))
    for name in ("config.json", "events.jsonl", "metrics.json", "model.safetensors", "model.json"):
        assert (tmp_path / "runs" / run_dir.split("/")[-1] / name).exists(), name


def test_cli_reports_user_errors_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "orca_engine", "run", "--data", str(tmp_path / "nope.csv"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: file not found" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "orca_engine", "run", "--align-steps", "-3"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "align.steps" in done.stderr


def test_pause_step_and_cancel_a_real_alignment(session):
    import time
    cfg = _config("digits", align={"steps": 500, "projection_every": 0})
    run = session.start(cfg, stages=("align",))
    deadline = time.time() + 120
    while session.status(run).step < 2 and time.time() < deadline:
        time.sleep(0.05)
    session.pause(run)
    time.sleep(0.5)
    frozen = session.status(run).step
    time.sleep(0.5)
    assert session.status(run).step == frozen and session.status(run).state == "paused"
    session.step(run)
    while session.status(run).step == frozen and time.time() < deadline:
        time.sleep(0.05)
    assert session.status(run).step == frozen + 1
    session.cancel(run)
    status = session.wait(run, timeout=30)
    assert status.state == "cancelled" and status.step < 500
