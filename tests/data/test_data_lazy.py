"""Inputs read from disk batch by batch (orca_engine/data/lazy.py): the same dataset as the eager
reader, splits as index arrays, hostile members refused, and resident memory that does not grow
with the file."""
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from orca_engine.baselines import run_baselines
from orca_engine.config import DataConfig
from orca_engine.data import load_dataset
from orca_engine.data.lazy import FileRows, LazyRows, MappedArray, _mapped_npy, is_lazy
from orca_engine.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


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


def test_rows_are_read_from_the_file_not_mapped_in_any_order_with_repeats(tmp_path):
    x = np.random.default_rng(0).normal(size=(300, 3, 17)).astype(">f4")  # big-endian on disk, odd row size
    np.save(tmp_path / "x.npy", x)
    rows = _mapped_npy(tmp_path / "x.npy")
    assert isinstance(rows, FileRows) and rows.shape == x.shape
    for idx in (np.array([5, 3, 4, 4, 299, 6, 0]), np.arange(300), np.array([], dtype=np.int64),
                np.random.default_rng(1).integers(0, 300, 64)):
        assert np.array_equal(rows.rows(idx), x[idx])
    with pytest.raises(IndexError):
        rows.rows(np.array([300]))
    copy = pickle.loads(pickle.dumps(rows))  # another process opens its own descriptor
    assert np.array_equal(copy.rows(np.array([7, 2])), x[[7, 2]])


def test_a_fortran_ordered_file_is_mapped_instead_and_reads_the_same(tmp_path):
    x = np.asfortranarray(np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32))
    np.save(tmp_path / "x.npy", x)
    rows = _mapped_npy(tmp_path / "x.npy")
    assert isinstance(rows, MappedArray) and np.array_equal(rows.rows(np.array([9, 1, 1])), x[[9, 1, 1]])


def test_a_file_cut_short_while_training_says_so(tmp_path):
    x = np.zeros((100, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    rows = _mapped_npy(tmp_path / "x.npy")
    with open(tmp_path / "x.npy", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(DataError, match="ended early"):
        rows.rows(np.array([99]))


def test_a_folder_of_object_arrays_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1, "a"]] * 4, dtype=object), allow_pickle=True)
    np.save(tmp_path / "y.npy", np.zeros(4))
    with pytest.raises(DataError, match="Python objects"):
        load_dataset(DataConfig(source=str(tmp_path)), seed=0)


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


@pytest.mark.scale
def test_training_from_a_file_4x_larger_than_the_memory_cap():
    """Peak RSS growth of a whole run (prepare, align, refine, evaluate) on a 1 GiB file of .npy
    rows stays under a quarter of it, and barely moves between a 256 MiB and a 1 GiB file: the
    measurement of `bench/scaling.py --only memmap` (docs/BENCHMARKS.md, "Scaling"). Reading
    through a memory map failed both (294 MB at 1 GiB, +103 MB from 256 MiB)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("this kernel does not let a process reset its peak RSS (/proc/self/clear_refs)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "bench/scaling.py", "--only", "memmap", "--file-mb", "256", "1024"],
                          capture_output=True, text=True, timeout=1200, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    small, big = json.loads(done.stdout)
    assert big["steps"] == 60 and big["n_train"] > 25_000  # training rows streamed from all over the file
    assert big["test"]["accuracy"] > 0.9  # it learned from what it streamed
    assert big["growth"] < big["file_bytes"] / 4, big
    # 768 MiB more file adds under 5% of it (40 MB; run-to-run noise is ~20 MB): nothing held grows with the data
    assert big["growth"] - small["growth"] < 0.05 * (big["file_bytes"] - small["file_bytes"]), (small, big)
