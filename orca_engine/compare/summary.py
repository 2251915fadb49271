"""Comparison tables from run folders (or their metrics): pure functions the CLI and the app share.

    rows = summarise_runs(["runs/a", "runs/b", ...])      # one flat row per finished run
    table = comparison_table(rows)                        # one row per (variant, data fraction)
    print(table_markdown(table))

A run made by `compare` carries its variant name in metrics.json; any other run (e.g. one a
visitor made in the app) is labelled by how its config differs from the ORCA recipe.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import RunError
from ..metrics import TASK_METRICS
from ..run_folder import RunFolder
from .variants import ORCA_RECIPE, VARIANTS

REFERENCE = "orca"  # paired differences are taken against this variant, seed by seed
_ALIGN_KEYS = ("objective_before", "objective_after", "otdd_before", "otdd_after")


def summarise_runs(sources: Iterable[str | Path | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per finished run: variant, seed, fraction, selection metric on test and validation,
    OTDD and objective before/after alignment, wall time, and every test metric as `test_<name>`.

    sources: run folders, or dicts {"config": config dict, "metrics": metrics dict, "run": name}.
    Runs without test metrics (failed, cancelled, not evaluated yet) are left out.
    """
    rows = []
    for source in sources:
        record = source if isinstance(source, Mapping) else _read_run(Path(source))
        if record is not None and record.get("metrics", {}).get("test"):
            rows.append(_row(record))
    return rows


def _read_run(run_dir: Path) -> dict[str, Any] | None:
    folder = RunFolder(run_dir)
    try:
        config, metrics = folder.read_config_dict(), folder.read_metrics()
    except (OSError, RunError):
        return None
    return {"config": config, "metrics": metrics, "run": folder.name, "wall_s": _events_wall_s(folder)}


def _events_wall_s(folder: RunFolder) -> float:
    """First to last event time of a run not made by `compare` (NaN when unknown)."""
    try:
        events = folder.read_events()
        return float(events[-1]["time"] - events[0]["time"])
    except (OSError, RunError, IndexError, KeyError, TypeError):
        return float("nan")


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    config, metrics = record.get("config", {}), record["metrics"]
    compare = metrics.get("compare", {})
    task = _task(metrics)
    selection = TASK_METRICS.get(task).selection if task in TASK_METRICS else next(iter(metrics["test"]))
    align = metrics.get("align", {}) if "baseline" not in metrics else {}
    data, model = config.get("data", {}), config.get("model", {})
    row = {"run": record.get("run", ""), "variant": compare.get("variant") or variant_label(config),
           "dataset": data.get("source", ""), "backbone": model.get("backbone", ""), "budget": budget_label(config),
           "task": task,
           "seed": compare.get("seed", config.get("seed", 0)),
           "train_fraction": float(compare.get("train_fraction", data.get("train_fraction", 1.0))),
           "metric": selection, "test": _num(metrics["test"].get(selection)),
           "validation": _num(metrics.get("validation", {}).get(selection)),
           "objective": align.get("objective", ""),
           **{k: _num(align.get(k)) for k in _ALIGN_KEYS},
           "wall_s": _num(compare.get("wall_s", record.get("wall_s"))),
           "align_reused": bool(align.get("reused_from"))}
    row.update({f"test_{k}": _num(v) for k, v in metrics["test"].items()})
    return row


def budget_label(config: Mapping[str, Any]) -> str:
    """The training budget a run had; runs with different budgets are never averaged together."""
    align, refine, model = (config.get(k, {}) for k in ("align", "refine", "model"))
    epochs = refine.get("epochs", "?")
    steps = (f"{epochs} epochs" if epochs else
             f"auto steps ({refine.get('min_steps', '?')}-{refine.get('max_steps', '?')})")
    parts = [steps, f"lr {refine.get('lr', '?')}",
             f"{model.get('max_tokens', '?')} tokens", f"{align.get('steps', '?')} align steps"]
    return ", ".join(parts)


def _task(metrics: Mapping[str, Any]) -> str:
    task = metrics.get("data", {}).get("task", "")
    if task:
        return task
    keys = set(metrics["test"])
    return next((t for t, m in TASK_METRICS.items() if m.selection in keys), "")


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def variant_label(config: Mapping[str, Any]) -> str:
    """The registered variant a config matches, else its differences from the ORCA recipe."""
    flat = {key: config.get(key.split(".")[0], {}).get(key.split(".")[1]) for key in ORCA_RECIPE}
    if config.get("align", {}).get("steps") == 0:  # zero alignment steps is no alignment, whatever the objective
        flat["align.objective"] = "none"
    for name, variant in VARIANTS.items():
        if variant.kind == "neural" and all(flat[k] == v for k, v in variant.overrides.items()):
            return name
    changes = [f"{k.split('.')[1]}={flat[k]}" for k, v in ORCA_RECIPE.items() if flat[k] != v]
    return ", ".join(changes) or REFERENCE


# -- aggregation ---------------------------------------------------------------------------------

def comparison_table(rows: Iterable[Mapping[str, Any]], reference: str = REFERENCE) -> list[dict[str, Any]]:
    """One row per (dataset, backbone, budget, variant, train_fraction): mean and spread over seeds.

    `delta_mean`/`delta_std` are paired differences with `reference` (same dataset, backbone, budget,
    fraction and seed; positive = this variant's number is larger), `wins` counts the seeds where it
    did better by the metric's own direction.
    """
    rows = list(rows)
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((*_setting(row), row["variant"], row["train_fraction"]), []).append(row)
    refs = {(*_setting(r), r["train_fraction"], r["seed"]): r["test"] for r in rows if r["variant"] == reference}
    table = [_aggregate(members, refs, reference) for members in groups.values()]
    order = {name: i for i, name in enumerate(VARIANTS.names())}
    return sorted(table, key=lambda t: (*_setting(t), order.get(t["variant"], len(order)), t["variant"],
                                       -t["train_fraction"]))


def _setting(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """Runs are only compared within one dataset, backbone and training budget."""
    return str(row.get("dataset", "")), str(row.get("backbone", "")), str(row.get("budget", ""))


def _aggregate(members: list, refs: dict, reference: str) -> dict[str, Any]:
    first = members[0]
    variant, fraction = first["variant"], first["train_fraction"]
    test = np.array([m["test"] for m in members], dtype=float)
    metric = first["metric"]
    higher = TASK_METRICS.get(first["task"]).higher_is_better if first["task"] in TASK_METRICS else True
    paired = [(m["test"], refs[(*_setting(m), fraction, m["seed"])]) for m in members
              if (*_setting(m), fraction, m["seed"]) in refs and variant != reference]
    deltas = np.array([a - b for a, b in paired], dtype=float)
    wins = sum((a > b) if higher else (a < b) for a, b in paired)
    dataset, backbone, budget = _setting(first)
    return {"dataset": dataset, "backbone": backbone, "budget": budget, "variant": variant, "train_fraction": fraction,
            "seeds": len(members), "metric": metric,
            "higher_is_better": higher, "test_mean": _mean(test), "test_std": _std(test),
            "validation_mean": _mean([m["validation"] for m in members]),
            "delta_mean": _mean(deltas), "delta_std": _std(deltas),
            "wins": f"{wins}/{len(paired)}" if paired else "",
            "objective": members[0]["objective"],
            **{f"{k}_mean": _mean([m[k] for m in members]) for k in _ALIGN_KEYS},
            "wall_s_mean": _mean([m["wall_s"] for m in members]), "reference": reference}


def _mean(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.mean()) if values.size else float("nan")


def _std(values) -> float:
    """Sample standard deviation over seeds (NaN with fewer than two)."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1)) if values.size >= 2 else float("nan")


# -- rendering -----------------------------------------------------------------------------------

def _fmt(value: float, digits: int = 4) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _decimals(scale: float) -> int:
    """Decimal places that show about four significant digits of numbers of size `scale`."""
    if not math.isfinite(scale) or scale == 0:
        return 4
    return int(min(4, max(0, 3 - math.floor(math.log10(abs(scale))))))


def _spread(mean: float, std: float, scale: float | None = None) -> str:
    """'mean ± std' with the decimals of `scale` (default: the mean), so columns read alike."""
    if math.isnan(mean):
        return "n/a"
    d = _decimals(mean if scale is None else scale)
    return f"{mean:.{d}f}" if math.isnan(std) else f"{mean:.{d}f} ± {std:.{d}f}"


def table_markdown(table: list[Mapping[str, Any]], notes: Iterable[str] = ()) -> str:
    """Markdown (mean ± sample std over seeds) after `notes` lines; one table per dataset and backbone."""
    notes = list(notes)
    if not table:
        return "\n".join(notes) + "\n\n(no finished runs)\n"
    settings = list(dict.fromkeys(_setting(t) for t in table))
    if len(settings) == 1:
        return _one_table(table, notes)
    parts = [_one_table([t for t in table if _setting(t) == s], [f"### {s[0]} on {s[1]} ({s[2]})"])
             for s in settings]
    return "\n".join(notes) + ("\n\n" if notes else "") + "\n".join(parts)


def _one_table(table: list[Mapping[str, Any]], notes: list[str]) -> str:
    metric = table[0]["metric"]
    better = "higher" if table[0]["higher_is_better"] else "lower"
    ref = table[0]["reference"]
    head = (f"| variant | train fraction | seeds | test {metric} ({better} is better) | Δ = variant − {ref} "
            f"(paired by seed) | seeds better than {ref} | val {metric} | OTDD before → after | "
            "own objective: before → after | wall s |")
    lines = [*notes, "" if notes else None, head, "|" + "---|" * 10]
    for t in table:
        objective = (f"{t['objective']}: {_fmt(t['objective_before_mean'])} → {_fmt(t['objective_after_mean'])}"
                     if t["objective"] not in ("", "none") else "")
        delta = _spread(t["delta_mean"], t["delta_std"], t["test_mean"])
        lines.append(f"| {t['variant']} | {t['train_fraction']:g} | {t['seeds']} | "
                     f"{_spread(t['test_mean'], t['test_std'])} | {delta} | "
                     f"{t['wins']} | {_spread(t['validation_mean'], math.nan)} | "
                     f"{_fmt(t['otdd_before_mean'])} → {_fmt(t['otdd_after_mean'])} | {objective} | "
                     f"{_fmt(t['wall_s_mean'], 3)} |")
    return "\n".join(line for line in lines if line is not None) + "\n"


def rows_csv(rows: list[Mapping[str, Any]]) -> str:
    """CSV text of flat rows (the union of their keys, first-seen order)."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
