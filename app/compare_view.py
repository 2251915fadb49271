"""The "compare your runs" view: the engine's comparison table for one visitor, as rows and a chart."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from . import messages, plots

if TYPE_CHECKING:
    from orca_engine.session import RunComparison


def comparison_rows(comparison: RunComparison) -> tuple[str, list[list]]:
    """(note, table rows for the page) from the engine's comparison of a visitor's runs."""
    if not comparison.table:
        return messages.COMPARE_EMPTY, []
    shown = [[t["variant"], t["seeds"], t["metric"], _num(t["test_mean"]), _num(t["test_std"]),
              _num(t["otdd_before_mean"]), _num(t["otdd_after_mean"]), _num(t["wall_s_mean"], 1)]
             for t in comparison.table]
    name = Path(str(comparison.dataset)).name  # an older run may name its upload by the server's path: show the file name
    return messages.COMPARE_NOTE.format(dataset=name, n=comparison.runs), shown


def comparison_chart(table: list[dict]):
    if not table:
        return plots.empty(messages.COMPARE_EMPTY)
    bars = [{"label": t["variant"], "mean": t["test_mean"],
             "std": None if math.isnan(t["test_std"]) else t["test_std"]} for t in table]
    return plots.runs_comparison(bars, metric=f"test {table[0]['metric']}", title="Test score by variant")


def _num(value: float, digits: int = 4):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)
