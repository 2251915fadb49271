"""Stage 3, evaluate: test metrics reported once, confusion matrix, predictions, and the saved model."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..contracts import BuildInfo
from ..csv_out import csv_text
from ..diagnostics import majority_rate, one_class_warning
from ..events import ArtifactReady, Event, StageFinished, StageStarted, WarningRaised
from ..metrics import TASK_METRICS, confusion_matrix, per_class_figures
from ..predict import model_outputs, to_task_units
from ..run_folder import METRICS, WEIGHTS
from .context import RunContext


def evaluate(ctx: RunContext) -> Iterator[Event]:
    ds, model, info = ctx.dataset, ctx.model, ctx.build_info
    yield StageStarted("evaluate", total_steps=1)
    raw = model_outputs(model, ds.x_test, precision=ctx.config.precision)
    outputs = to_task_units(raw, info)
    scored = raw if ds.task in ("classification", "multilabel") else outputs
    test = TASK_METRICS.get(ds.task).compute(ds.y_test, scored)
    ctx.metrics["test"] = test
    details: dict = {}
    if ds.task == "classification":
        matrix = confusion_matrix(ds.y_test, raw, ds.num_outputs)
        details = {"confusion_matrix": matrix.tolist(), "class_names": list(info.class_names),
                   "per_class": per_class_figures(matrix, list(info.class_names))}
    ctx.metrics["test_details"] = details
    if ds.task == "classification":
        ctx.metrics["test_reference"] = {"majority_class_rate": majority_rate(ds.y_train, ds.y_test),
                                         "chance": 1.0 / max(1, ds.num_outputs)}
        warning = one_class_warning(raw, ds.y_test, list(info.class_names), "test")
        if warning:
            yield WarningRaised("evaluate", warning)
    yield from _baselines(ctx, test)

    folder = ctx.folder
    yield ArtifactReady("predictions", str(folder.write_predictions(predictions_csv(ds.y_test, outputs, info))))
    folder.save_weights(model.state_dict(), info)
    yield ArtifactReady("model", str(folder.path / WEIGHTS))
    folder.write_metrics(ctx.metrics)
    yield ArtifactReady("metrics", str(folder.path / METRICS))
    yield StageFinished("evaluate", metrics={"test": test, **details,
                                             **{k: ctx.metrics[k] for k in ("baselines", "test_reference")
                                                if k in ctx.metrics}})


def _baselines(ctx: RunContext, test: dict) -> Iterator[Event]:
    """Fit the classical baselines on the same split and write the verdict line (evaluate.baselines)."""
    from ..baselines import run_baselines, verdict
    cfg = ctx.config.evaluate
    if cfg.baselines == "none":
        return
    results, skipped = run_baselines(ctx.dataset, cfg.baselines, ctx.config.seed, cfg.baseline_seconds)
    seconds = sum(ctx.metrics.get("seconds", {}).get(s, 0.0) for s in ("align", "refine"))
    line = verdict(ctx.dataset.task, test, seconds, results)
    ctx.metrics["baselines"] = {"results": [r.to_dict() for r in results], "skipped": skipped, "verdict": line}
    if line.get("beat") is False and line.get("margin", 0) < 0:
        yield WarningRaised("evaluate", line["text"] + ". The baselines are in metrics.json; try --tune, "
                                                       "or another backbone.")


def predictions_csv(y_true: np.ndarray, outputs: np.ndarray, info: BuildInfo) -> str:
    """One row per test sample: true and predicted values (class names for classification).

    Class names come from the user's file: csv_text quotes and formula-escapes them (see csv_out).
    """
    task = info.task
    if task == "classification":
        names = list(info.class_names) or [str(i) for i in range(outputs.shape[1])]
        header = ["index", "true", "predicted", "confidence"] + [f"p_{n}" for n in names]
        rows = ([i, names[int(t)], names[int(p.argmax())], f"{p.max():.4f}"] + [f"{v:.4f}" for v in p]
                for i, (t, p) in enumerate(zip(y_true, outputs)))
        return csv_text(header, rows)
    flat_true = np.asarray(y_true).reshape(len(y_true), -1)
    flat_pred = np.asarray(outputs).reshape(len(outputs), -1)
    width = flat_true.shape[1]
    header = ["index"] + [f"true_{j}" for j in range(width)] + [f"pred_{j}" for j in range(width)]
    rows = ([i] + [f"{v:.6g}" for v in flat_true[i]] + [f"{v:.6g}" for v in flat_pred[i]]
            for i in range(len(flat_true)))
    return csv_text(header, rows)
