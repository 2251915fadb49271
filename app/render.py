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
from .glossary import plain_source_class
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
    fig.update_layout(height=280, margin=dict(l=30, r=10, t=10, b=30), legend=plots.LEGEND_BELOW)
    return fig


def table_preview(rows: list[dict], targets: list) -> list[list[Any]]:
    return [list(row.values()) + [target] for row, target in zip(rows, targets)]


# -- run progress --------------------------------------------------------------------------------

def duration(seconds: float | None) -> str:
    if seconds is None:
        return messages.UNKNOWN_ETA
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_text(status, seconds_per_step: float | None = None) -> str:
    """One line for a RunStatus: state, stage, step/total, elapsed, ETA (or the queue position).

    With `seconds_per_step` (the rate measured over the latest steps) the ETA follows it, and the
    rate is shown; otherwise it is the session's average over the whole stage."""
    state = messages.STATE_NAMES.get(status.state, status.state)
    if status.state == "failed":
        return messages.FAILED.format(message=status.error)
    if status.state == "queued":
        text = f"{state}: " + messages.QUEUE_POSITION.format(position=status.queue_position)
        return text + (messages.QUEUE_ETA.format(eta=duration(status.eta_s)) if status.eta_s is not None else "")
    if status.total:
        eta = status.eta_s
        if seconds_per_step is not None and status.state in ("running", "paused"):
            eta = seconds_per_step * max(0, status.total - status.step)
        text = messages.PROGRESS.format(state=state, stage=status.stage, step=status.step, total=status.total,
                                        elapsed=duration(status.elapsed_s), eta=duration(eta))
        if seconds_per_step is not None:
            text += " · " + messages.STEP_RATE.format(rate=seconds_per_step)
        return text
    text = messages.PROGRESS_NO_STEPS.format(state=state, stage=status.stage or "-",
                                             elapsed=duration(status.elapsed_s))
    if status.state == "paused" and status.queue_position:  # paused while still waiting for the machine
        text += " · " + messages.QUEUED_PAUSED.format(position=status.queue_position)
    return text


def run_bar_text(status, rate: float | None = None) -> str:
    """The run bar's line: the stage in plain words, then the progress line."""
    if status is None:
        return ""
    stage = messages.RUN_BAR_STAGES.get(status.stage, status.stage)
    return messages.RUN_BAR_TEXT.format(stage=stage, progress=progress_text(status, rate))


def align_summary(metrics: dict) -> str:
    if metrics.get("objective") == "none":
        return messages.ALIGNED_NONE
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
    """The test headline, then what puts it in context: chance level, and the verdict on the baselines.
    A chance-level or one-class result is drawn in the warning style, never like a good one."""
    metrics = view.test_metrics
    metric = next(iter(metrics))
    n = view.stage_metrics.get("prepare", {}).get("dataset", {}).get("splits", {}).get("test", "?")
    lines = [messages.TEST_HEADLINE.format(metric=metric, value=metrics[metric], n=n)]
    evaluated = view.stage_metrics.get("evaluate", {})
    chance = evaluated.get("test_reference", {}).get("majority_class_rate")
    alarming = [w.split(": ", 1)[1] for w in view.warnings if w.startswith("evaluate: the model predicts one class")]
    if chance is not None and metrics.get("accuracy", 1.0) <= chance + 1e-9:
        alarming.insert(0, messages.BELOW_CHANCE.format(metric="accuracy", value=metrics["accuracy"], chance=chance))
    elif chance is not None and metrics.get("accuracy", 1.0) <= chance + chance_margin(chance, n):
        alarming.insert(0, messages.NEAR_CHANCE.format(value=metrics["accuracy"], chance=chance,
                                                        margin=chance_margin(chance, n)))
    elif metric == "r2" and isinstance(metrics.get("r2"), float) and metrics["r2"] <= 0.0:
        alarming.insert(0, messages.BELOW_MEAN.format(value=metrics["r2"]))
    verdict = evaluated.get("baselines", {}).get("verdict", {})
    if verdict.get("text") and verdict.get("beat") is not None:
        won = verdict["beat"] or verdict.get("margin", 0) == 0
        lines.append((messages.VERDICT_WIN if won else messages.VERDICT_LOSS).format(text=verdict["text"]))
    if alarming:
        headline = lines[0].replace("**", "<strong>", 1).replace("**", "</strong>", 1)  # no Markdown inside HTML
        return (f'<div class="orca-warning">⚠ {headline}<br>' + "<br>".join(alarming) + "</div>\n\n"
                + "\n\n".join(lines[1:]))
    return "\n\n".join(lines)


def chance_margin(rate: float, n) -> float:
    """Two standard errors of an accuracy `rate` measured on `n` samples: a result within this of the
    majority-class rate cannot be told apart from it."""
    try:
        return 2.0 * (rate * (1.0 - rate) / max(1, int(n))) ** 0.5
    except (TypeError, ValueError):
        return 0.0


def warnings_text(view: RunView, stages: tuple[str, ...] | None = None) -> str:
    """The latest warnings of `stages` (all by default), as a Markdown list: each under the step it is about."""
    shown = [w for w in view.warnings if stages is None or w.split(":", 1)[0] in stages]
    return "\n".join(f"- ⚠ {w}" for w in shown[-3:])


# -- figures from the folded view ------------------------------------------------------------

def align_loss_figure(view: RunView):
    marked = (view.class_distances or {}).get("step")
    return plots.loss_curve(view.align_steps, view.align_losses, title=messages.OBJECTIVE_PLOT, marked_step=marked)


def projection_figure(view: RunView):
    """The newest frame, with axes that change little within one method so the view does not jump."""
    if not view.frames:
        return plots.empty(messages.PROJECTION_PLOT)
    index = shown_frame(view)
    method = view.frames[index]["method"]
    previous = view.projection_ranges if view.projection_ranges_method == method else None
    distances = view.class_distances or {}
    fig, view.projection_ranges = motion.motion_figure(
        view.frames, index, class_names=class_names(view) or None,
        source_class_names=[plain_source_class(c) for c in distances.get("source_classes", [])] or None,
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
    matrix = np.asarray(d["matrix"], dtype=float)
    finite = matrix[np.isfinite(matrix)]
    if finite.size:  # one colour scale for the whole run: it only widens, so later frames compare with earlier
        low, high = view.distance_range or (float(finite.min()), float(finite.max()))
        view.distance_range = (min(low, float(finite.min())), max(high, float(finite.max())))
    return plots.class_distance_heatmap(matrix, d["target_classes"], [plain_source_class(c) for c in d["source_classes"]],
                                        step=d.get("step"), title=messages.HEATMAP_PLOT,
                                        colour_range=view.distance_range)


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
    guess = evaluated.get("test_reference", {}).get("chance")
    if guess:
        rows.append([messages.CHANCE_ROW.format(k=round(1 / guess)), round(guess, 4)])
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
