"""Turn engine records (dataset reports, run statuses, folded run views) into what the page shows.

Pure functions apart from gradio update objects: no session calls, no training, no error handling.
Figures come from `app.plots`; only the data previews, too small to deserve a builder, are drawn here.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from . import messages, motion, plots
from .state import RunView


# -- data step -----------------------------------------------------------------------------------

def data_summary(report: dict) -> str:
    outputs = (f"{report['num_outputs']} classes" if report["task"] == "classification"
               else f"{report['num_outputs']} outputs")
    sizes = ", ".join(f"{k} {v}" for k, v in report.get("splits", {}).items())
    text = messages.DATA_LOADED.format(name=report["name"], modality=report["modality"],
                                       shape=tuple(report["input_shape"]), task=report["task"], outputs=outputs,
                                       sizes=sizes)
    notes = [str(n) for n in report.get("notes", []) if n]
    if notes:
        text += f"\n\n**{messages.DATA_NOTES}**\n" + "\n".join(f"- {n}" for n in notes)
    return text


def class_count_rows(report: dict) -> list[list[Any]]:
    counts = report.get("class_counts", {})
    splits = list(counts)
    classes = list(counts[splits[0]]) if splits else []
    return [[name] + [counts[s].get(name, 0) for s in splits] for name in classes]


def class_count_headers(report: dict) -> list[str]:
    return ["class"] + list(report.get("class_counts", {}))


def gallery_items(x: np.ndarray, targets: list) -> list[tuple[np.ndarray, str]]:
    """(N, C, H, W) floats -> [(H, W[, 3]) uint8, caption]: each image stretched to its own range."""
    items = []
    for image, target in zip(x, targets):
        lo, hi = float(image.min()), float(image.max())
        scaled = ((image - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)  # (C, H, W)
        pixels = scaled[0] if scaled.shape[0] == 1 else np.moveaxis(scaled[:3], 0, -1)  # (H, W) or (H, W, 3)
        items.append((pixels, str(target)))
    return items


def signal_figure(x: np.ndarray, targets: list) -> go.Figure:
    """(N, C, L) signals, first channel of each, one line per sample labelled by its target."""
    fig = go.Figure()
    for i, (signal, target) in enumerate(zip(x, targets)):
        fig.add_trace(go.Scatter(y=signal[0], mode="lines", name=f"#{i}: {target}"))
    fig.update_layout(height=260, margin=dict(l=30, r=10, t=10, b=30), legend=dict(font=dict(size=10)))
    return fig


def table_preview(rows: list[dict], targets: list) -> list[list[Any]]:
    return [list(row.values()) + [target] for row, target in zip(rows, targets)]


# -- run progress --------------------------------------------------------------------------------

def duration(seconds: float | None) -> str:
    if seconds is None:
        return messages.UNKNOWN_ETA
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_text(status) -> str:
    """One line for a RunStatus: state, stage, step/total, elapsed, ETA (or the queue position)."""
    state = messages.STATE_NAMES.get(status.state, status.state)
    if status.state == "failed":
        return messages.FAILED.format(message=status.error)
    if status.state == "queued":
        text = f"{state}: " + messages.QUEUE_POSITION.format(position=status.queue_position)
        return text + (messages.QUEUE_ETA.format(eta=duration(status.eta_s)) if status.eta_s is not None else "")
    if status.total:
        return messages.PROGRESS.format(state=state, stage=status.stage, step=status.step, total=status.total,
                                        elapsed=duration(status.elapsed_s), eta=duration(status.eta_s))
    return messages.PROGRESS_NO_STEPS.format(state=state, stage=status.stage or "-",
                                             elapsed=duration(status.elapsed_s))


def align_summary(metrics: dict) -> str:
    before, after = metrics.get("objective_before", float("nan")), metrics.get("objective_after", float("nan"))
    change = 100.0 * (after - before) / abs(before) if before else 0.0
    return messages.ALIGNED.format(steps=metrics.get("steps", 0), objective=metrics.get("objective", ""),
                                   before=before, after=after, change=change,
                                   otdd_before=metrics.get("otdd_before", float("nan")),
                                   otdd_after=metrics.get("otdd_after", float("nan")))


def outcome_text(view: RunView) -> str:
    if view.outcome == "failed":
        return messages.FAILED.format(message=view.error)
    if view.outcome == "cancelled":
        return messages.STOPPED
    return messages.STATE_NAMES.get(view.outcome, view.outcome)


def metrics_headline(view: RunView) -> str:
    """The test headline, then what puts it in context: chance level, and the verdict on the baselines."""
    metrics = view.test_metrics
    metric = next(iter(metrics))
    n = view.stage_metrics.get("prepare", {}).get("dataset", {}).get("splits", {}).get("test", "?")
    lines = [messages.TEST_HEADLINE.format(metric=metric, value=metrics[metric], n=n)]
    evaluated = view.stage_metrics.get("evaluate", {})
    chance = evaluated.get("test_reference", {}).get("majority_class_rate")
    if chance is not None and metrics.get("accuracy", 1.0) <= chance + 1e-9:
        lines.append(messages.BELOW_CHANCE.format(metric="accuracy", value=metrics["accuracy"], chance=chance))
    verdict = evaluated.get("baselines", {}).get("verdict", {})
    if verdict.get("text") and verdict.get("beat") is not None:
        won = verdict["beat"] or verdict.get("margin", 0) == 0
        lines.append((messages.VERDICT_WIN if won else messages.VERDICT_LOSS).format(text=verdict["text"]))
    return "\n\n".join(lines)


def warnings_text(view: RunView) -> str:
    return "\n".join(f"- ⚠ {w}" for w in view.warnings[-3:])


# -- figures from the folded view ------------------------------------------------------------

def align_loss_figure(view: RunView):
    return plots.loss_curve(view.align_steps, view.align_losses, title=messages.OBJECTIVE_PLOT)


def projection_figure(view: RunView):
    """The newest frame, with axes that change little within one method so the view does not jump."""
    if not view.frames:
        return plots.empty(messages.PROJECTION_PLOT)
    index = shown_frame(view)
    method = view.frames[index]["method"]
    previous = view.projection_ranges if view.projection_ranges_method == method else None
    distances = view.class_distances or {}
    fig, view.projection_ranges = motion.motion_figure(
        view.frames, index, class_names=class_names(view) or None, source_class_names=distances.get("source_classes"),
        axis_ranges=previous, title=messages.PROJECTION_PLOT)
    view.projection_ranges_method = method
    return fig


def shown_frame(view: RunView) -> int:
    """The frame the projection shows: the one scrubbed to, else the newest."""
    last = len(view.frames) - 1
    return last if view.scrub is None else max(0, min(view.scrub, last))


def class_names(view: RunView) -> list[str]:
    """The user's class names in label order, from the data report of the run's prepare stage."""
    counts = view.stage_metrics.get("prepare", {}).get("dataset", {}).get("class_counts", {})
    return list(next(iter(counts.values()), {}))


def heatmap_figure(view: RunView):
    d = view.class_distances
    if d is None:
        return plots.empty(messages.HEATMAP_PLOT)
    return plots.class_distance_heatmap(np.asarray(d["matrix"]), d["target_classes"], d["source_classes"],
                                        step=d.get("step"), title=messages.HEATMAP_PLOT)


def refine_figure(view: RunView):
    return plots.training_curves(view.refine_steps, view.refine_losses, view.val_epochs, view.val_metrics,
                                 title=messages.REFINE_PLOT)


def trial_rows(view: RunView) -> list[list[Any]]:
    """The tune stage's trials as table rows: number, validation score, best so far, seconds, settings."""
    rows = []
    for t in view.trials:
        settings = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items())
        rows.append([t["trial"], round(t["value"], 4), "✓" if t.get("best") else "", round(t["seconds"], 1),
                     settings])
    return rows


def test_metric_rows(view: RunView) -> list[list[Any]]:
    """ORCA's test metrics, then the references on the same split: the majority-class rate and each
    baseline's value of the task's first metric."""
    rows = [[name, round(value, 4) if isinstance(value, float) else value]
            for name, value in view.test_metrics.items()]
    evaluated = view.stage_metrics.get("evaluate", {})
    first = next(iter(view.test_metrics), None)
    chance = evaluated.get("test_reference", {}).get("majority_class_rate")
    if chance is not None:
        rows.append([messages.MAJORITY_ROW + " (accuracy)", round(chance, 4)])
    for result in evaluated.get("baselines", {}).get("results", []):
        if first in result.get("test", {}):
            rows.append([messages.BASELINE_ROW.format(model=result["model"]) + f" ({first})",
                         round(result["test"][first], 4)])
    return rows


def test_figure(view: RunView):
    details = view.stage_metrics.get("evaluate", {})
    if "confusion_matrix" in details:
        return plots.confusion_matrix_figure(np.asarray(details["confusion_matrix"]), details.get("class_names"))
    path = view.artifacts.get("predictions")
    if path and Path(path).is_file():
        true, pred = predictions_from_csv(Path(path))
        if len(true):
            return plots.predicted_vs_true(true, pred)
    return plots.empty(messages.TEST_PLOT)


def predictions_from_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """First target column of a non-classification predictions.csv: (true, predicted)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "true_0" not in rows[0]:
        return np.zeros(0), np.zeros(0)
    return (np.array([float(r["true_0"]) for r in rows]), np.array([float(r["pred_0"]) for r in rows]))


def prediction_rows(outputs: np.ndarray, task: str, class_names: list[str], truths: list | None = None
                    ) -> list[list[Any]]:
    """Model outputs in task units -> one table row per sample."""
    rows = []
    for i, out in enumerate(np.asarray(outputs)):
        truth = "" if truths is None else truths[i]
        if task == "classification":
            k = int(np.argmax(out))
            name = class_names[k] if k < len(class_names) else str(k)
            rows.append([i, name, round(float(out[k]), 3), truth])
        else:
            flat = np.ravel(out)
            shown = ", ".join(f"{v:.4g}" for v in flat[:4]) + (" ..." if flat.size > 4 else "")
            rows.append([i, shown, "", truth])
    return rows


FIGURES = {"alignment_objective": align_loss_figure, "projection": projection_figure,
           "class_distances": heatmap_figure, "training_curves": refine_figure, "test": test_figure}
