"""Predictions CSVs quote hostile class names and defuse formula cells (OWASP CSV injection)."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from orca_engine.cli import prediction_table
from orca_engine.csv_out import csv_text, safe_cell
from orca_engine.contracts import BuildInfo
from orca_engine.stages.evaluate import predictions_csv

HOSTILE_NAMES = ["a,b", 'say "hi"', "two\nlines", "=HYPERLINK(\"http://x\")", "+1+cmd|' /C calc'!A0", "@SUM(A1)",
                 "\tlead tab", "\rlead cr", "-1", "plain"]
EXPECTED = ["a,b", 'say "hi"', "two\nlines", "'=HYPERLINK(\"http://x\")", "'+1+cmd|' /C calc'!A0", "'@SUM(A1)",
            "'\tlead tab", "'\rlead cr", "-1", "plain"]


@pytest.mark.parametrize("value, expected", [
    ("=1+2", "'=1+2"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-1.5", "-1.5"), ("+3", "+3"), ("1e-3", "1e-3"), (-2.5, -2.5), (np.float32(-0.5), -0.5), ("cats", "cats"),
])
def test_safe_cell_escapes_formulas_and_keeps_numbers(value, expected):
    assert safe_cell(value) == expected


def _parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_evaluate_predictions_csv_round_trips_hostile_class_names():
    k = len(HOSTILE_NAMES)
    outputs = np.eye(k, dtype=np.float32)
    rows = _parse(predictions_csv(np.arange(k), outputs, _info("classification", HOSTILE_NAMES)))
    assert all(len(r) == len(rows[0]) for r in rows), "every row has the header's number of fields"
    assert [r[1] for r in rows[1:]] == EXPECTED and [r[2] for r in rows[1:]] == EXPECTED
    assert rows[0][4:] == [f"p_{n}" for n in HOSTILE_NAMES]


def test_cli_prediction_table_writes_a_parseable_csv():
    k = len(HOSTILE_NAMES)
    header, rows = prediction_table(np.eye(k) * 0.9 - 0.05, _info("classification", HOSTILE_NAMES))
    parsed = _parse(csv_text(header, rows))
    assert len(parsed) == k + 1 and all(len(r) == k + 1 for r in parsed)
    assert [r[0] for r in parsed[1:]] == EXPECTED
    assert parsed[1][2] == "-0.05", "negative numbers stay numbers"


def test_regression_predictions_stay_plain_numbers():
    text = predictions_csv(np.array([-1.0, 2.0]), np.array([-1.5, 2.5]), _info("regression"))
    assert _parse(text)[1:] == [["0", "-1", "-1.5"], ["1", "2", "2.5"]]


def _info(task: str, class_names=()) -> BuildInfo:
    return BuildInfo(modality="tabular", task=task, input_shape=(1,), output_shape=(), num_outputs=len(class_names) or 1,
                     class_names=tuple(class_names))
