"""Stage 3, evaluate: test metrics reported once, confusion matrix, predictions, and the saved model."""
from __future__ import annotations

import csv
import io
from typing import Iterator

import numpy as np

from ..events import ArtifactReady, Event, StageFinished, StageStarted
from ..metrics import TASK_METRICS, confusion_matrix, per_class_figures
from ..predict import model_outputs, to_task_units
from ..runs import save_model, write_atomic, write_json
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
        details = {"confusion_matrix": matrix.tolist(), "class_names": info["class_names"],
                   "per_class": per_class_figures(matrix, info["class_names"])}
    ctx.metrics["test_details"] = details

    run_dir = ctx.run_dir
    write_atomic(run_dir / "predictions.csv", predictions_csv(ds.y_test, outputs, info))
    yield ArtifactReady("predictions", str(run_dir / "predictions.csv"))
    save_model(run_dir, model, info)
    yield ArtifactReady("model", str(run_dir / "model.safetensors"))
    write_json(run_dir / "metrics.json", ctx.metrics)
    yield ArtifactReady("metrics", str(run_dir / "metrics.json"))
    yield StageFinished("evaluate", metrics={"test": test, **details})


def predictions_csv(y_true: np.ndarray, outputs: np.ndarray, info: dict) -> str:
    """One row per test sample: true and predicted values (class names for classification)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    task = info["task"]
    if task == "classification":
        names = info["class_names"] or [str(i) for i in range(outputs.shape[1])]
        writer.writerow(["index", "true", "predicted", "confidence"] + [f"p_{n}" for n in names])
        for i, (t, p) in enumerate(zip(y_true, outputs)):
            k = int(p.argmax())
            writer.writerow([i, names[int(t)], names[k], f"{p[k]:.4f}"] + [f"{v:.4f}" for v in p])
    else:
        flat_true = np.asarray(y_true).reshape(len(y_true), -1)
        flat_pred = np.asarray(outputs).reshape(len(outputs), -1)
        width = flat_true.shape[1]
        writer.writerow(["index"] + [f"true_{j}" for j in range(width)] + [f"pred_{j}" for j in range(width)])
        for i in range(len(flat_true)):
            writer.writerow([i] + [f"{v:.6g}" for v in flat_true[i]] + [f"{v:.6g}" for v in flat_pred[i]])
    return buf.getvalue()
