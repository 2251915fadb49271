"""Inputs read from disk batch by batch (orca_engine/data/lazy.py): the same dataset as the eager
reader, splits as index arrays, hostile members refused, and resident memory that does not grow
with the file."""
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from orca_engine.baselines import run_baselines
from orca_engine.config import DataConfig
from orca_engine.data import load_dataset
from orca_engine.data.lazy import LazyRows, is_lazy
from orca_engine.errors import DataError


def _arrays(n=240, channels=2, length=32, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, channels, length)) + y[:, None, None]).astype(np.float32)
    return x, y


def _same(lazy, eager):
    for split in ("train", "val", "test"):
        (xl, yl), (xe, ye) = lazy.split(split), eager.split(split)
        assert is_lazy(xl) and not is_lazy(xe)
        assert xl.shape == xe.shape and np.array_equal(yl, ye)
        assert np.allclose(np.asarray(xl), xe, atol=1e-5), split
    assert lazy.spec["layout"] == eager.spec["layout"]
    assert np.allclose(lazy.spec["input_scaling"]["mean"], eager.spec["input_scaling"]["mean"], atol=1e-6)
    assert np.allclose(lazy.spec["input_scaling"]["std"], eager.spec["input_scaling"]["std"], atol=1e-6)


def test_a_folder_of_npy_files_is_read_lazily_and_equals_the_npz(tmp_path):
    x, y = _arrays()
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "x.npy", x)
    np.save(tmp_path / "data" / "y.npy", y)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    lazy = load_dataset(DataConfig(source=str(tmp_path / "data")), seed=3)
    _same(lazy, load_dataset(DataConfig(source=str(tmp_path / "d.npz")), seed=3))
    assert lazy.report["lazy"] is True and any("read from disk" in n for n in lazy.report["notes"])


def test_an_uncompressed_npz_over_the_array_cap_is_memory_mapped(tmp_path, monkeypatch):
    x, y = _arrays(n=600, length=256)  # ~1.2 MB of inputs
    path = tmp_path / "splits.npz"
    np.savez(path, x_train=x[:500], y_train=y[:500], x_test=x[500:], y_test=y[500:])
    eager = load_dataset(DataConfig(source=str(path)), seed=0)
    monkeypatch.setenv("ORCA_MAX_ARRAY_MB", "1")  # eagerly this file would now be refused
    lazy = load_dataset(DataConfig(source=str(path)), seed=0)
    _same(lazy, eager)


def test_a_compressed_npz_over_the_cap_is_still_refused(tmp_path, monkeypatch):
    x, y = _arrays(n=600, length=256)
    np.savez_compressed(tmp_path / "c.npz", x=x, y=y)
    monkeypatch.setenv("ORCA_MAX_ARRAY_MB", "1")
    with pytest.raises(DataError, match="ORCA_MAX_ARRAY_MB"):
        load_dataset(DataConfig(source=str(tmp_path / "c.npz")), seed=0)


def _header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("member, message", [
    (_header((100_000, 64)) + b"\0" * 2_000_000, "declares"),  # a header promising 25 MB over 2 MB of data
    (b"\x93NUMPY\x01\x00" + b"\xff" * 2_000_000, "not a readable .npy"),  # a damaged header
])
def test_a_stored_member_that_lies_about_its_data_is_refused(tmp_path, monkeypatch, member, message):
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", member)
        z.writestr("y.npy", _header((8,)) + b"\0" * 32)
    monkeypatch.setenv("ORCA_MAX_ARRAY_MB", "1")
    with pytest.raises(DataError, match=message):
        load_dataset(DataConfig(source=str(path)), seed=0)


def test_lazy_rows_index_like_an_array_and_splits_are_views(tmp_path):
    x, y = _arrays(n=50)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    ds = load_dataset(DataConfig(source=str(tmp_path)), seed=0)
    rows = ds.x_train
    assert isinstance(rows, LazyRows) and rows.ndim == 3 and len(rows) == rows.shape[0]
    assert rows[0].shape == rows.shape[1:] and rows[2:5].shape == (3, *rows.shape[1:])
    picked = rows[np.array([4, 1, 4])]
    assert np.array_equal(picked[0], picked[2]) and np.array_equal(picked[1], rows[1])
    assert np.shares_memory(rows.index, rows.index)  # an index array, the file stays on disk
    assert rows.index.dtype == np.int64 and rows.index.nbytes == 8 * len(rows)


def test_baselines_are_skipped_with_a_reason_when_lazy_data_is_large(tmp_path, monkeypatch):
    x, y = _arrays(n=60)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    ds = load_dataset(DataConfig(source=str(tmp_path)), seed=0)
    monkeypatch.setattr("orca_engine.baselines.LAZY_BASELINE_MB", 0)
    results, skipped = run_baselines(ds, "linear", 0, 60)
    assert results == [] and "read from disk lazily" in skipped["linear"]


def test_a_hugging_face_dataset_folder_loads_by_path(tmp_path):
    datasets = pytest.importorskip("datasets")
    x, y = _arrays(n=90, channels=1, length=16)
    saved = tmp_path / "hf"
    datasets.Dataset.from_dict({"x": x[:, 0].tolist(), "label": y.tolist()}).save_to_disk(str(saved))
    np.savez(tmp_path / "same.npz", x=x[:, 0], y=y)
    lazy = load_dataset(DataConfig(source=f"hf:{saved}"), seed=1)
    _same(lazy, load_dataset(DataConfig(source=str(tmp_path / "same.npz")), seed=1))


def test_an_hf_source_without_known_columns_says_which_it_needs(tmp_path):
    datasets = pytest.importorskip("datasets")
    saved = tmp_path / "hf"
    datasets.Dataset.from_dict({"a": [[1.0, 2.0]] * 20, "b": [0, 1] * 10}).save_to_disk(str(saved))
    with pytest.raises(DataError, match="inputs must be in one of"):
        load_dataset(DataConfig(source=f"hf:{saved}"), seed=0)


CHILD = textwrap.dedent("""
    import json, pathlib, sys, tempfile
    import torch
    from orca_engine.config import RunConfig
    from orca_engine.stages import RunContext, align, evaluate, prepare, refine

    def status():
        return {l.split(":")[0]: int(l.split()[1]) * 1024 for l in open("/proc/self/status")
                if l.startswith(("VmHWM", "VmRSS"))}

    def run(source):
        cfg = RunConfig.from_dict({"data": {"source": source, "val_fraction": 0.05, "test_fraction": 0.05},
                                   "model": {"backbone": "tiny-bert", "max_tokens": 8},
                                   "align": {"steps": 2, "source_samples": 40, "samples_per_class": 4,
                                             "projection_every": 0, "projection_points": 64},
                                   "refine": {"batch_size": 32, "target_epochs": 1, "min_steps": 10,
                                              "max_steps": 60, "eval_every": 30},
                                   "evaluate": {"baselines": "all"}, "device": "cpu"})
        ctx = RunContext(config=cfg, run_dir=pathlib.Path(tempfile.mkdtemp()))
        for stage in (prepare, align, refine, evaluate):
            for _ in stage(ctx):
                pass
        metrics = dict(ctx.metrics)
        ctx.release()
        return metrics

    torch.set_num_threads(1)
    run(sys.argv[1])  # warm-up on a small file: imports, libraries and first-use allocations
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
    start = status()["VmRSS"]
    metrics = run(sys.argv[2])
    print(json.dumps({"start": start, "peak": status()["VmHWM"], "steps": metrics["refine"]["steps"],
                      "n_train": metrics["data"]["splits"]["train"], "test": metrics["test"]}))
""")


def _signal_folder(folder, megabytes, length=4096):
    """Two classes of 1-D signals, written straight to a memory-mapped .npy (never whole in memory)."""
    folder.mkdir()
    n = megabytes * 2**20 // (length * 4)
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(n, 1, length))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    for start in range(0, n, 512):
        end = min(n, start + 512)
        x[start:end] = rng.normal(size=(end - start, 1, length)).astype(np.float32) + 0.5 * y[start:end, None, None]
    x.flush()
    del x
    np.save(folder / "y.npy", y)
    return (folder / "x.npy").stat().st_size


@pytest.mark.scale
def test_training_from_a_file_4x_larger_than_the_memory_cap(tmp_path):
    """Peak RSS growth of a whole run (prepare, align, refine, evaluate) stays under a quarter of the
    file it trains on: the cap is file size / 4, measured after a warm-up run on a small file."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("this kernel does not let a process reset its peak RSS (/proc/self/clear_refs)")
    _signal_folder(tmp_path / "small", 4)
    size = _signal_folder(tmp_path / "big", 512)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "small"), str(tmp_path / "big")],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cap = size / 4
    assert result["steps"] == 60 and result["n_train"] > 25_000  # training rows streamed from all over the file
    assert result["test"]["accuracy"] > 0.9  # it learned from what it streamed
    assert result["peak"] - result["start"] < cap, (result, size)
