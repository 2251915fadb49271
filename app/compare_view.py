"""The "compare your runs" view: the engine's comparison table for one visitor, as rows and a chart."""
from __future__ import annotations

import math
from pathlib import Path

from orca_engine.compare import comparison_table, summarise_runs

from . import messages, plots


def comparison_rows(run_dirs: list[str], dataset: str | None = None) -> tuple[str, list[list], list[dict]]:
    """(note, table rows for the page, aggregated rows) over finished runs on `dataset` (default: the latest)."""
    rows = summarise_runs(run_dirs)
    if dataset is None and rows:
        dataset = rows[-1]["dataset"]
    rows = [r for r in rows if r["dataset"] == dataset]
    if not rows:
        return messages.COMPARE_EMPTY, [], []
    table = comparison_table(rows)
    shown = [[t["variant"], t["seeds"], t["metric"], _num(t["test_mean"]), _num(t["test_std"]),
              _num(t["otdd_before_mean"]), _num(t["otdd_after_mean"]), _num(t["wall_s_mean"], 1)] for t in table]
    name = Path(str(dataset)).name  # an older run may name its upload by the server's path: show the file name
    return messages.COMPARE_NOTE.format(dataset=name, n=len(rows)), shown, table


def comparison_chart(table: list[dict]):
    if not table:
        return plots.empty(messages.COMPARE_EMPTY)
    bars = [{"label": t["variant"], "mean": t["test_mean"],
             "std": None if math.isnan(t["test_std"]) else t["test_std"]} for t in table]
    return plots.runs_comparison(bars, metric=f"test {table[0]['metric']}", title="Test score by variant")


def _num(value: float, digits: int = 4):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)
