"""bench/gpu_check.py, the prepared GPU check: its CPU dry run goes through every check and passes."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_passes_every_check(tmp_path):
    out = tmp_path / "rows.json"
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--dry-run", "--reps", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] and report["device"] == "cpu"
    checks = [row["check"] for row in report["rows"]]
    assert checks[0].startswith("cuda tests") and checks[1].startswith("otdd parity")
    assert checks[2].startswith("alignment step") and checks[3:] == ["default run, precision fp32",
                                                                     "default run, precision bf16"]
    assert all(row["ok"] for row in report["rows"])
    assert "collected" in report["rows"][0]["detail"]  # the CUDA tests were found
    runs = report["rows"][3:]
    assert all(0 <= row["accuracy"] <= 1 for row in runs) and runs[0]["precision_used"] == "fp32"


def test_gpu_check_without_a_gpu_says_to_use_the_dry_run():
    import pytest
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible: the full check runs instead")
    done = subprocess.run([sys.executable, "bench/gpu_check.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and "--dry-run" in done.stderr
