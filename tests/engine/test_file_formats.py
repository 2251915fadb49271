"""The CLI on every supported file format, then predict and evaluate from the saved run folder."""
import io
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

TINY_FLAGS = ["--backbone", "tiny-bert", "--align-steps", "2", "--align-source-samples", "40",
              "--align-samples-per-class", "6", "--refine-epochs", "1", "--quiet", "--no-projection"]


def _cli(*args, timeout=300):
    done = subprocess.run([sys.executable, "-m", "orca_engine", *args], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def _csv(tmp_path):
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer(as_frame=True)
    table = data.frame.rename(columns={"target": "diagnosis"})
    table["site"] = np.where(np.arange(len(table)) % 3 == 0, "north", "south")  # a categorical feature
    path = tmp_path / "tumours.csv"
    table.to_csv(path, index=False)
    table.drop(columns=["diagnosis"]).head(7).to_csv(tmp_path / "new.csv", index=False)
    return path, ["--label-column", "diagnosis"], tmp_path / "new.csv"


def _npz(tmp_path):
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 64)
    y = rng.integers(0, 3, 240)
    x = np.sin(2 * np.pi * (y[:, None] + 1) * 3 * t) + 0.3 * rng.standard_normal((240, 64))
    path = tmp_path / "signals.npz"
    np.savez(path, x=x.astype(np.float32), y=y)
    np.savez(tmp_path / "new.npz", x=x[:5].astype(np.float32))
    return path, [], tmp_path / "new.npz"


def _zip(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    path = tmp_path / "shapes.zip"
    with zipfile.ZipFile(path, "w") as z:
        for label, value in (("dark", 40), ("light", 210)):
            for i in range(30):
                pixels = np.clip(value + rng.normal(0, 25, (12, 12)), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format="PNG")
                z.writestr(f"{label}/{i}.png", buf.getvalue())
    return path, [], None


@pytest.mark.parametrize("make", [_csv, _npz, _zip], ids=["csv", "npz", "zip"])
def test_cli_trains_on_each_file_format_and_predicts(tmp_path, make):
    path, extra, new = make(tmp_path)
    run_dir = _cli("run", "--data", str(path), *extra, *TINY_FLAGS, "--out", str(tmp_path / "runs"))
    metrics = pd.read_json(f"{run_dir}/metrics.json", typ="series")
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    if new is not None:
        out = _cli("predict", run_dir, "--data", str(new))
        predictions = pd.read_csv(out)
        assert len(predictions) == (7 if path.suffix == ".csv" else 5)
        assert np.allclose(predictions.filter(like="p_").sum(axis=1), 1.0, atol=1e-3)


def test_cli_evaluate_scores_a_labelled_file(tmp_path):
    path, extra, _ = _csv(tmp_path)
    run_dir = _cli("run", "--data", str(path), *extra, *TINY_FLAGS, "--out", str(tmp_path / "runs"))
    done = subprocess.run([sys.executable, "-m", "orca_engine", "evaluate", run_dir, "--data", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"accuracy"' in done.stdout
