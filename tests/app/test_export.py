"""Export that works anywhere: the zip alone reruns the run; an unfinished run says what it lacks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app import data_step, handlers, messages, server
from app.state import Visitor

pytestmark = pytest.mark.usefixtures("no_runs_in_background")  # a run and its rerun compared

ROOT = Path(__file__).resolve().parents[2]
TINY_VALUES = {"model.backbone": "tiny-bert", "align.steps": 3, "align.source_samples": 100,
               "align.samples_per_class": 8, "align.projection_points": 40, "refine.epochs": 1,
               "refine.batch_size": 32, "evaluate.baselines": "linear"}


@pytest.fixture
def real_session(tmp_path):
    from orca_engine.session import Session
    session = Session(runs_dir=tmp_path / "runs", live_projection=False)
    previous = server.install(session)
    yield session
    server.install(previous)


def uploaded_csv(upload) -> str:
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    label = np.where(x[:, 0] + 0.3 * rng.normal(size=90) > 0, "high", "low")
    rows = ["a,b,c,kind"] + [f"{a:.4f},{b:.4f},{c:.4f},{k}" for (a, b, c), k in zip(x, label)]
    return upload("my readings.csv", "\n".join(rows) + "\n")


def test_the_zip_alone_reruns_the_run_with_the_same_test_score(real_session, upload, tmp_path):
    visitor = Visitor(owner="alice")
    data_step.read_upload(visitor, uploaded_csv(upload), "kind")
    handlers.start_refine(visitor, dict(TINY_VALUES))
    status = real_session.wait(visitor.run_id, timeout=600)
    assert status.state == "finished", status.error

    label, archive, figures, command = handlers.export_run(visitor)
    assert "the zip holds the model" in label
    assert "my readings.csv" in command and "/tmp" not in command and "gradio" not in command
    unpacked = tmp_path / "unzipped"
    with zipfile.ZipFile(archive) as z:
        z.extractall(unpacked)
    folder = next(unpacked.iterdir())
    readme = (folder / "README.md").read_text()
    assert "reproduce.sh" in readme and "data/my readings.csv" in readme and "finished" in readme
    assert (folder / "data" / "my readings.csv").read_bytes() == Path(visitor.data_source).read_bytes()

    # rerun from the zip alone (its config and data file), from the checkout, as the README says
    out = tmp_path / "rerun"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(folder / "reproduce.sh"), "--out", str(out), "--quiet", "--no-projection"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    again = json.loads(next(out.glob("*/metrics.json")).read_text())["test"]
    first = json.loads((folder / "metrics.json").read_text())["test"]
    assert again == pytest.approx(first, abs=1e-6)


def test_an_unfinished_run_exports_and_says_what_is_missing(real_session, tmp_path):
    visitor = Visitor(owner="bob", data_source="iris")
    handlers.start_align(visitor, dict(TINY_VALUES))
    status = real_session.wait(visitor.run_id, timeout=600)
    assert status.state == "idle", status.error  # aligned, waiting for refinement
    label, archive, figures, command = handlers.export_run(visitor)
    assert "not finished" in label and "trained weights (model.safetensors)" in label
    with zipfile.ZipFile(archive) as z:
        readme = next(z.read(n).decode() for n in z.namelist() if n.endswith("README.md"))
        assert not any(n.endswith("model.safetensors") for n in z.namelist())
    assert "**Incomplete**" in readme and "model.safetensors" in readme
    assert "--data iris" in command and messages.COMMAND_UPLOAD_NOTE[:12] not in command
