"""The compare-runs view over real run folders (config.json + metrics.json as the engine writes them)."""
import json

from app.compare_view import comparison_chart, comparison_rows
from orca_engine.config import RunConfig
from orca_engine.session import compare_runs


def _run(tmp_path, name, seed, accuracy, objective="otdd-exact", source="digits"):
    folder = tmp_path / name
    folder.mkdir()
    config = RunConfig().with_overrides({"seed": seed, "align.objective": objective, "data.source": source})
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    metrics = {"test": {"accuracy": accuracy, "macro_f1": accuracy}, "validation": {"accuracy": accuracy},
               "data": {"task": "classification"},
               "align": {"objective": objective, "objective_before": 2.0, "objective_after": 1.0,
                         "otdd_before": 2.0, "otdd_after": 1.0 if objective != "none" else 2.0}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return str(folder)


def test_runs_are_grouped_by_variant_with_mean_and_spread(tmp_path):
    dirs = [_run(tmp_path, "a", 0, 0.80), _run(tmp_path, "b", 1, 0.90),
            _run(tmp_path, "c", 0, 0.70, objective="none"), _run(tmp_path, "d", 0, 0.5, source="iris")]
    comparison = compare_runs(dirs, dataset="digits")
    note, shown = comparison_rows(comparison)
    table = comparison.table
    assert "digits" in note and "3 finished runs" in note
    by_variant = {row[0]: row for row in shown}
    assert set(by_variant) == {"orca", "no-align"}, by_variant
    orca = by_variant["orca"]
    assert orca[1] == 2 and abs(orca[3] - 0.85) < 1e-9 and abs(orca[4] - 0.0707) < 1e-3
    assert by_variant["no-align"][6] == 2.0  # OTDD unchanged without alignment
    chart = comparison_chart(table)
    assert len(chart.data) == 1 and list(chart.data[0].x) == [row[0] for row in shown]


def test_no_finished_runs_gives_the_empty_message(tmp_path):
    comparison = compare_runs([str(tmp_path / "missing")], dataset="digits")
    note, shown = comparison_rows(comparison)
    assert shown == [] and comparison.table == [] and comparison.runs == 0 and "No finished run" in note
    assert "No finished run" in comparison_chart([]).layout.annotations[0].text
