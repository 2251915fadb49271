"""Hostile uploads (bombs, pickles, traversal names, oversized tables) are refused cleanly and cheaply.

Each case is a record: how to build the file in tmp_path, the fragment the DataError must hold
(usually the cap's environment variable), and whether the CLI check runs it too. The CLI check
runs `python -m orca_engine run --data FILE` in a fresh process and asserts exit 2, a one-line
message and a peak RSS under 1 GiB. Time is not asserted: the test machine is shared.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hostile_builders import (GiB, MiB, deflated_zeros, image_zip, npy_bytes, npy_header, npy_header_only, npz_of,
                              pickled_object_array, png_bomb, raw_pickle, small_png, write_raw_zip, zip_bomb)

from orca_engine.config import DataConfig
from orca_engine.data import load_dataset
from orca_engine.data.arrays import load_arrays
from orca_engine.errors import ConfigError, DataError

PEAK_RSS = Path(__file__).with_name("peak_rss.py")
RSS_BOUND_MIB = 1024
MARKER = "pickle-ran.marker"  # created (in tmp_path) only if a loader unpickled a payload


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], Path]
    fragment: str
    env: dict[str, str] = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # DataConfig overrides
    cli: bool = False


def _npz_64_tib(p: Path) -> Path:
    return npz_of(p / "d.npz", {"x": npy_header_only((1 << 43,)), "y": npy_bytes(np.arange(10))})


def _npz_member_inflating(p: Path, declared: int | None = None) -> Path:
    """x.npy declares 600 MiB of float64 zeros and really inflates to them (3 KB on disk)."""
    header = npy_header((600 * MiB // 8,))
    stream = deflated_zeros(600 * MiB, prefix=header)
    size = len(header) + 600 * MiB if declared is None else declared
    crc = zlib.crc32((header + bytes(size))[:size]) if declared is not None else 0  # a lie that passes the CRC
    y = npy_bytes(np.arange(10))
    return write_raw_zip(p / "d.npz", [("x.npy", stream, crc, size),
                                       ("y.npy", zlib.compress(y)[2:-4], zlib.crc32(y), len(y))])


def _pickle_npz(p: Path) -> Path:
    return npz_of(p / "d.npz", {"x": npy_bytes(pickled_object_array(p / MARKER)), "y": npy_bytes(np.arange(4))})


def _pngs(p: Path, side: int, count: int) -> Path:
    bomb = png_bomb(side, side)
    return image_zip(p / "d.zip", {f"{'cats' if i % 2 else 'dogs'}/{i}.png": bomb for i in range(count)})


def _many_entries(p: Path) -> Path:
    return image_zip(p / "d.zip", {f"{'cats' if i % 2 else 'dogs'}/{i}.png": small_png(i) for i in range(50)})


def _traversal(name: str) -> Callable[[Path], Path]:
    def build(p: Path) -> Path:
        files = {f"cats/{i}.png": small_png(i) for i in range(4)}
        files[name.format(tmp=p)] = small_png(9)
        return image_zip(p / "d.zip", files)
    return build


def _truncated_zip(p: Path) -> Path:
    whole = image_zip(p / "whole.zip", {f"{c}/{i}.png": small_png(i) for c in ("a", "b") for i in range(5)})
    data = whole.read_bytes()
    (p / "d.zip").write_bytes(data[: len(data) // 2])
    return p / "d.zip"


def _wide_csv(p: Path, mib: int = 2) -> Path:
    row = ",".join(["1.5"] * 50) + ",0\n"
    header = ",".join(f"f{j}" for j in range(50)) + ",label\n"
    (p / "d.csv").write_text(header + row * (mib * MiB // len(row) + 1))
    return p / "d.csv"


def _long_csv_with_broken_tail(p: Path) -> Path:
    """5000 good rows, then a ragged line: a reader that stops at data.max_samples never sees it."""
    rows = "".join(f"{i % 7},{i % 3}\n" for i in range(5000))
    (p / "d.csv").write_text("a,label\n" + rows + "1,2,3,4\n")
    return p / "d.csv"


CASES = [
    Case("zip bomb 3 GiB", lambda p: zip_bomb(p / "d.zip"), "ORCA_MAX_DECOMPRESSED_MB", cli=True),
    Case("zip bomb, header lies (declares 1 MiB)", lambda p: zip_bomb(p / "d.zip", declared=MiB),
         "cannot decode image", cli=True),
    Case("image entry bigger than any image within the pixel cap", lambda p: zip_bomb(p / "d.zip", size=2 * MiB),
         "an image file within the pixel cap needs at most", env={"ORCA_MAX_IMAGE_PIXELS": "1000"}),
    Case("zip with too many entries", _many_entries, "ORCA_MAX_ZIP_ENTRIES", env={"ORCA_MAX_ZIP_ENTRIES": "20"}),
    Case("png 20000x20000", lambda p: _pngs(p, 20000, 2), "ORCA_MAX_IMAGE_PIXELS", cli=True),
    Case("eight 9000x9000 pngs", lambda p: _pngs(p, 9000, 8), "ORCA_MAX_IMAGE_PIXELS"),
    Case("png past Pillow's own bomb guard", lambda p: _pngs(p, 20000, 2), "ORCA_MAX_IMAGE_PIXELS",
         env={"ORCA_MAX_IMAGE_PIXELS": "1000000000"}),
    Case("npz declares 64 TiB", _npz_64_tib, "ORCA_MAX_ARRAY_MB", cli=True),
    Case("npz member inflates past the budget", _npz_member_inflating, "ORCA_MAX_DECOMPRESSED_MB",
         env={"ORCA_MAX_ARRAY_MB": "4096"}),
    Case("npz member header lies about its size", lambda p: _npz_member_inflating(p, declared=1024), "truncated",
         env={"ORCA_MAX_ARRAY_MB": "4096"}),
    Case("pickled object array in npz", _pickle_npz, "refused for safety", cli=True),
    Case("pickle renamed .npz", lambda p: (p / "d.npz").write_bytes(raw_pickle(p / MARKER)) and p / "d.npz",
         "cannot read d.npz"),
    Case("zip entry ../escape.png", _traversal("../escape.png"), "points outside the archive"),
    Case("zip entry with an absolute path", _traversal("{tmp}/abs/cats/1.png"), "points outside the archive"),
    Case("truncated zip", _truncated_zip, "cannot open d.zip"),
    Case("csv over the byte cap", _wide_csv, "ORCA_MAX_CSV_MB", env={"ORCA_MAX_CSV_MB": "1"}, cli=True),
    Case("csv rows past data.max_samples", _long_csv_with_broken_tail, "data.max_samples = 100",
         data={"max_samples": 100}),
]


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_hostile_file_raises_a_clean_data_error(case: Case, tmp_path: Path, monkeypatch):
    source = case.build(tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DataError) as raised:
        load_dataset(DataConfig(source=str(source), **case.data), seed=0)
    message = str(raised.value)
    assert case.fragment in message
    assert "\n" not in message, "a user error is one line"
    _assert_nothing_escaped(tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=_ids([c for c in CASES if c.cli]))
def test_cli_refuses_hostile_file_in_bounded_memory(case: Case, tmp_path: Path):
    source = case.build(tmp_path)
    env = {**os.environ, **case.env, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(PEAK_RSS), sys.executable, "-m", "orca_engine", "run", "--data", str(source),
               "--quiet", "--no-projection", "--out", str(tmp_path / "runs")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n[hostile] {case.id}: peak {result['peak_mib']:.0f} MiB, {result['seconds']:.1f} s")
    errors = [line for line in result["stderr"].splitlines() if line.strip()]
    assert result["rc"] == 2, result["stderr"][-2000:]
    assert len(errors) == 1 and errors[0].startswith("error: ") and case.fragment in errors[0], errors
    assert result["peak_mib"] < RSS_BOUND_MIB
    _assert_nothing_escaped(tmp_path)


def test_npy_object_array_is_never_unpickled(tmp_path: Path):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes(pickled_object_array(tmp_path / MARKER)))
    with pytest.raises(DataError, match="refused for safety"):
        load_arrays(path)
    _assert_nothing_escaped(tmp_path)


def test_npy_header_over_the_cap_is_refused_before_reading(tmp_path: Path, monkeypatch):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_header_only((1 << 43,)))
    with pytest.raises(DataError, match="64.0 TiB.*ORCA_MAX_ARRAY_MB"):
        load_arrays(path)
    monkeypatch.setenv("ORCA_MAX_ARRAY_MB", str(1 << 30))  # cap lifted: the short file is still caught
    with pytest.raises(DataError, match="truncated"):
        load_arrays(path)


def test_plain_npy_is_memory_mapped(tmp_path: Path):
    np.save(tmp_path / "x.npy", np.arange(12.0).reshape(3, 4))
    x = load_arrays(tmp_path / "x.npy")["x"]
    assert isinstance(x, np.memmap) and x.shape == (3, 4)


def test_lowering_a_cap_by_environment_refuses_an_ordinary_file(tmp_path: Path, monkeypatch):
    np.savez(tmp_path / "d.npz", x=np.zeros((100, 2600)), y=np.arange(100) % 2)  # 2 MiB of float64
    monkeypatch.setenv("ORCA_MAX_ARRAY_MB", "1")
    with pytest.raises(DataError, match=r"2\.0 MiB of array data: over the cap of 1 MB .*ORCA_MAX_ARRAY_MB"):
        load_arrays(tmp_path / "d.npz")
    monkeypatch.setenv("ORCA_MAX_ARRAY_MB", "0")
    with pytest.raises(ConfigError, match="ORCA_MAX_ARRAY_MB = '0'"):
        load_arrays(tmp_path / "d.npz")
    monkeypatch.delenv("ORCA_MAX_ARRAY_MB")
    assert load_arrays(tmp_path / "d.npz")["x"].shape == (100, 2600)


def _assert_nothing_escaped(tmp_path: Path) -> None:
    assert not (tmp_path / MARKER).exists(), "a pickle payload ran"
    assert not (tmp_path.parent / "escape.png").exists()
    assert not (tmp_path / "abs").exists()
