"""Refinement over several processes (Accelerate, gloo on CPU): one run folder, the same model on
every rank, and the validation result of a one-process run at the same global batch and seed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orca_engine.distributed import SINGLE, launcher_command, strip_launcher_flags
from orca_engine.errors import ConfigError

RUN = ["run", "--data", "breast_cancer", "--backbone", "tiny-bert", "--device", "cpu", "--align-steps", "3",
       "--align-source-samples", "60", "--align-samples-per-class", "8", "--refine-epochs", "2",
       "--evaluate-baselines", "none", "--no-projection", "--quiet"]
# Tolerance of the parity check. Two processes see the same global batches and average their
# gradients, so they follow the one-process run up to float summation order and dropout draws
# (each rank draws masks for its own share): measured 8e-6 on the validation loss.
VAL_LOSS_TOLERANCE = 1e-2
METRIC_TOLERANCE = 0.05


def test_launcher_flags_are_stripped_from_the_relaunched_command():
    argv = ["run", "--launcher", "accelerate", "--data", "digits", "--num-processes=4", "--quiet"]
    assert strip_launcher_flags(argv) == ["run", "--data", "digits", "--quiet"]
    command = launcher_command(argv, 4)
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[-5:] == ["orca_engine", "run", "--data", "digits", "--quiet"]


def test_one_process_cannot_be_launched_as_a_group():
    with pytest.raises(ConfigError, match="at least 2 processes"):
        launcher_command(["run"], 1)


def test_a_single_process_gathers_rows_unchanged():
    x = np.arange(12.0).reshape(6, 2)
    assert np.array_equal(SINGLE.gather_rows(lambda rows: rows * 2, x), x * 2)
    assert SINGLE.sums([1.5, 2.0]) == [1.5, 2.0] and SINGLE.any(False) is False
    assert np.array_equal(SINGLE.shard(np.arange(5)), np.arange(5))


def _cli(args: list[str], out: Path) -> Path:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "orca_engine", *args, "--out", str(out)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_processes_write_one_run_that_matches_one_process(tmp_path):
    pytest.importorskip("accelerate")
    two = _cli(RUN + ["--launcher", "accelerate", "--num-processes", "2"], tmp_path / "two")
    one = _cli(RUN, tmp_path / "one")
    assert [p.name for p in (tmp_path / "two").iterdir()] == [two.name]  # only rank 0 wrote a folder
    m2, m1 = (json.loads((d / "metrics.json").read_text()) for d in (two, one))
    assert m2["distributed"]["processes"] == 2 and m2["distributed"]["backend"] == "gloo"
    assert m2["distributed"]["max_weight_difference"] == 0.0  # DDP kept every rank on the same weights
    assert m2["refine"]["steps"] == m1["refine"]["steps"]  # the same global batch, so the same budget
    assert m2["align"]["objective_after"] == pytest.approx(m1["align"]["objective_after"], rel=1e-5)
    assert abs(m2["validation"]["loss"] - m1["validation"]["loss"]) <= VAL_LOSS_TOLERANCE, (m2["validation"],
                                                                                            m1["validation"])
    assert abs(m2["validation"]["accuracy"] - m1["validation"]["accuracy"]) <= METRIC_TOLERANCE
    events = [json.loads(line) for line in (two / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "finished" and sum(e["type"] == "run_started" for e in events) == 1
    steps = [e for e in events if e["type"] == "step" and e["stage"] == "refine"]
    assert len(steps) == m2["refine"]["steps"]  # one record per step, from rank 0 alone
