"""A run killed (kill -9) mid-refine leaves a folder that still predicts, and says it is incomplete."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from orca_engine.runs import load_run

ROOT = Path(__file__).resolve().parents[2]


def test_kill_minus_nine_mid_refine_leaves_a_predicting_checkpoint_marked_incomplete(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "orca_engine", "run", "--data", "iris", "--backbone", "tiny-bert", "--quiet",
           "--no-projection", "--align-steps", "0", "--refine-epochs", "10000", "--refine-eval-every", "2",
           "--evaluate-baselines", "none", "--out", str(out)]
    env = {**os.environ, "ORCA_CHECKPOINT_EVERY_S": "0", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600  # a generous bound for a busy machine; we wait on a condition
        model_json = None
        while time.monotonic() < deadline and process.poll() is None:
            found = list(out.glob("*/model.json"))
            if found and "checkpoint" in found[0].read_text():
                model_json = found[0]
                break
            time.sleep(0.2)
        assert model_json is not None, "no checkpoint was written during refine"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    run_dir = model_json.parent
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    assert not any(e["type"] in ("finished", "failed") for e in events)  # killed, not ended
    run = load_run(run_dir)
    assert not run.complete and "did not finish" in run.incomplete_note
    probabilities = run.predict(np.zeros((3, 4), dtype=np.float32))
    assert probabilities.shape == (3, 3) and np.allclose(probabilities.sum(1), 1, atol=1e-4)
    cli = subprocess.run([sys.executable, "-m", "orca_engine", "predict", str(run_dir), "--data",
                          str(_iris_csv(tmp_path))], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert "did not finish" in cli.stderr


def _iris_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris
    data = load_iris()
    path = tmp_path / "new.csv"
    lines = [",".join(data.feature_names)] + [",".join(map(str, row)) for row in data.data[:5]]
    path.write_text("\n".join(lines) + "\n")
    return path
