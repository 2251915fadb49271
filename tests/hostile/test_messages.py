"""Inputs the probe found with misleading messages: each now gets a message that names the real problem."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from orca_engine.config import DataConfig
from orca_engine.data import load_dataset
from orca_engine.errors import DataError


def _write(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def build(p: Path) -> Path:
        (p / name).write_bytes(text.encode(encoding))
        return p / name
    return build


def _rows(n: int, make) -> str:
    return "".join(make(i) for i in range(n))


def _npz(**arrays) -> Callable[[Path], Path]:
    def build(p: Path) -> Path:
        np.savez(p / "d.npz", **arrays)
        return p / "d.npz"
    return build


_TABLE = "a,b,label\n" + _rows(40, lambda i: f"{i},{i % 5},{'yes' if i % 2 else 'no'}\n")

# (case id, build(tmp_path) -> file, message fragment)
CASES = [
    ("features of +-1e308 in a csv", _write("d.csv", "a,b,label\n" + _rows(40, lambda i: f"{(-1) ** i * 1e308},{i},"
                                                                     f"{i % 2}\n")),
     "column 'a' has values as large as 1e+308"),
    ("features of +-1e308 in an npz", _npz(x=np.full((40, 8), 1e308) * (-1) ** np.arange(8), y=np.arange(40) % 2),
     "the model computes in float32"),
    ("utf-16 csv", _write("d.csv", _TABLE, "utf-16"), "UTF-16"),
    ("latin-1 csv", _write("d.csv", "name,label\n" + _rows(40, lambda i: f"caf\u00e9{i % 3},{i % 2}\n"), "latin-1"),
     "re-save it as UTF-8"),
    ("nul bytes in a csv", _write("d.csv", _TABLE[:30] + "\0" + _TABLE[30:]), "NUL bytes (the first at byte 30)"),
    ("prose in a .txt", _write("d.txt", "It was a dark and stormy night, and the rain fell.\nThe wind howled; "
                                       "nobody came to the door at all.\n\nShe said: hello.\nEnd.\n"),
     "does not look like a table"),
    ("ragged csv", _write("d.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,7,1\n"), "line 4 has 4 fields"),
    ("1000 classes of 3 rows", _write("d.csv", "a,b,label\n" + _rows(3000, lambda i: f"{i},{i % 7},kind_{i % 1000}\n")),
     "'kind_0' has 3"),
]


@pytest.mark.parametrize("build, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_message_names_the_real_problem(build, fragment: str, tmp_path: Path):
    with pytest.raises(DataError) as raised:
        load_dataset(DataConfig(source=str(build(tmp_path))), seed=0)
    assert fragment in str(raised.value)
    assert "learning rate" not in str(raised.value) and "\n" not in str(raised.value)


def test_many_small_classes_are_named_and_counted_not_all_listed(tmp_path: Path):
    path = CASES[-1][1](tmp_path)
    with pytest.raises(DataError) as raised:
        load_dataset(DataConfig(source=str(path)), seed=0)
    message = str(raised.value)
    assert "(and 990 more of the 1000 classes)" in message and "needs at least 4" in message
    assert "merge rare classes" in message and len(message) < 1000


def test_huge_whole_number_labels_stay_distinct_classes(tmp_path: Path):
    ids = ("1000000000000000000000000000000", "1000000000000000000000000000001")
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n" + _rows(40, lambda i: f"{i},{i % 3},{ids[i % 2]}\n"))
    ds = load_dataset(DataConfig(source=str(path)), seed=0)
    assert ds.task == "classification" and sorted(ds.class_names) == sorted(ids)


def test_whitespace_txt_table_still_reads(tmp_path: Path):
    path = tmp_path / "d.txt"
    path.write_text("a b label\n" + _rows(40, lambda i: f"{i} {i % 4} {i % 2}\n"))
    ds = load_dataset(DataConfig(source=str(path)), seed=0)
    assert ds.input_shape == (2,) and ds.num_outputs == 2
