"""What the page shows follows one state: the visitor's current data and run (`state.Visitor`).

Handlers change that state; the functions here render every dependent section from it, so no
section can keep showing an earlier dataset's or run's results:

- `results_follow_data`: new data that is not the run's data retires the run (kept for replay);
- `render_results`: every output of steps 3-6 redrawn from the state (the poll's outputs, plus the
  prediction box and the export);
- `data_view`: step 1 from the state (after a reload, or a replay of a run on other data);
- `estimate`: the cost of the next run, before Start;
- `sample_view`: the sample the model was asked about, drawn as an image, a signal or a row.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from orca_engine.errors import OrcaError
from orca_engine.session import is_example, planned_refine_steps

from . import data_step, handlers, live, messages, render
from .server import session
from .state import Visitor

# outputs of `render_results` after live.POLL_OUTPUTS, in this order
EXTRA_OUTPUTS = ("prediction", "sample_image", "sample_plot", "sample_table", "export_status", "export_zip",
                 "export_figures", "export_command")
ESTIMATE_KEYS = ["model.backbone", "align.objective", "align.steps", "refine.epochs", "refine.batch_size",
                 "refine.target_epochs", "refine.min_steps", "refine.max_steps", "data.train_fraction"]


def run_data_name(visitor: Visitor) -> str:
    """The data of the run the page shows, as its config names it ("" when no run is shown)."""
    return str(visitor.view.config.get("data", {}).get("source", "")) if visitor.view.config else ""


def current_data_name(visitor: Visitor) -> str:
    return visitor.source_name or visitor.data_source


def results_follow_data(visitor: Visitor) -> str:
    """After new data: a shown run on other data is retired (stopped if active, kept for replay) and
    the page forgets it. Returns the note for step 1 ("" when nothing was cleared)."""
    shown = run_data_name(visitor)
    if not (visitor.run_id or visitor.replay is not None or shown):
        return ""
    if shown and shown == current_data_name(visitor):
        return ""
    old = visitor.run_id or visitor.view.run_id
    handlers._retire_current(visitor)
    visitor.watch("")
    return messages.RESULTS_CLEARED.format(run_id=old) if old else ""


def follow_data(visitor: Visitor) -> tuple:
    """After step 1 loaded data: (the note for step 1, *every result output) from the state."""
    return (results_follow_data(visitor), *render_results(visitor))


def after_replay(visitor: Visitor) -> tuple:
    """After Replay: step 1 names the replayed run's data, and every result output starts afresh."""
    records = list(visitor.replay.records if visitor.replay is not None else [])
    config = visitor.view.config or next((r.get("config", {}) for r in records if r.get("type") == "run_started"), {})
    replayed_data(visitor, [{"type": "run_started", "config": config}])
    return (*replay_data_view(visitor), *render_results(visitor))


def render_results(visitor: Visitor) -> tuple:
    """Every output of steps 3-6 from the state: the poll's outputs (all of them, not only changes),
    an empty prediction box and a cleared export."""
    visitor.redraw_all()
    polled = live.poll(visitor)
    hidden = gr.update(visible=False, value=None)
    return (*polled, [], hidden, hidden, hidden, "", None, None, "")


def data_view(visitor: Visitor) -> tuple:
    """Step 1 (DATA_OUTPUTS + the label picker + the example picker) from the state."""
    name = run_data_name(visitor)
    if visitor.data_source:
        example = visitor.data_source if is_example(visitor.data_source) else gr.skip()
        label = gr.update(choices=[visitor.label_column], value=visitor.label_column or None) \
            if visitor.label_column else gr.skip()
        return (*data_step._data_view(visitor, "auto", "auto"), label, example)
    if name:
        return (messages.DATA_OF_RUN_GONE.format(run_id=visitor.run_id or visitor.view.run_id, name=name),
                *data_step._hidden_previews(), gr.skip(), gr.skip())
    return (gr.skip(),) * (len(data_step.DATA_OUTPUTS) + 2)


def replayed_data(visitor: Visitor, records: list[dict]) -> str:
    """The replayed run's data becomes the page's data when it is a bundled example; the note for step 1."""
    config = next((r.get("config", {}) for r in records if r.get("type") == "run_started"), {})
    data = config.get("data", {})
    source = str(data.get("source", ""))
    visitor.view.config = config  # known at once, before the poll folds the records
    if is_example(source):
        visitor.data_source, visitor.source_name = source, ""
        visitor.label_column = data.get("label_column", "")
    elif source != current_data_name(visitor):
        visitor.data_source, visitor.source_name, visitor.label_column = "", "", ""
    return source


def replay_data_view(visitor: Visitor) -> tuple:
    """Step 1 during a replay: the replayed run's data (with its preview when the page has it)."""
    name = run_data_name(visitor)
    if visitor.data_source and current_data_name(visitor) == name:
        view = data_view(visitor)
        note = messages.DATA_OF_REPLAY.format(run_id=visitor.view.run_id, name=name)
        return (f"{note}\n\n{view[0]}", *view[1:])
    text = messages.DATA_OF_RUN_GONE.format(run_id=visitor.view.run_id, name=name or "?")
    return (text, *data_step._hidden_previews(), gr.skip(), gr.skip())


def estimate(visitor: Visitor, values: dict[str, Any]) -> tuple[str, str]:
    """(step 3's line, step 4's line): steps the next run will take, and minutes at the last measured rate."""
    if not visitor.data_source:
        return "", ""
    try:
        config = handlers.run_config(visitor, values)
        d = config.data
        ds = data_step.load_data(visitor.data_source, visitor.label_column, d.modality, d.task, seed=0)
        refine_steps = planned_refine_steps(config, max(1, int(round(len(ds.x_train) * d.train_fraction))), ds.task)
    except (OrcaError, gr.Error, ValueError, TypeError):
        return "", ""  # the options are being edited; Start will say what is wrong
    backbone = config.model.backbone
    align_steps = 0 if config.align.objective == "none" else config.align.steps
    align = messages.ESTIMATE_ALIGN.format(steps=align_steps) if align_steps else messages.ESTIMATE_NO_ALIGN
    refine = messages.ESTIMATE_REFINE.format(steps=refine_steps)
    rates = {stage: live.STEP_RATES.get((backbone, stage)) for stage in ("align", "refine")}
    return (messages.ESTIMATE.format(parts=f"{align}; {_time(align_steps, rates['align'], backbone)}"),
            messages.ESTIMATE.format(parts=f"{align} then {refine}; "
                                           f"{_time(refine_steps, rates['refine'], backbone)}"))


def _time(steps: int, rate: float | None, backbone: str) -> str:
    if rate is None:
        return messages.ESTIMATE_NO_RATE.format(backbone=backbone)
    minutes = render.duration(steps * rate)
    return messages.ESTIMATE_TIME.format(minutes=minutes, rate=rate, backbone=backbone)


def sample_view(visitor: Visitor, sample: float | None = 0, file: str | None = None) -> tuple:
    """(image, signal plot, row table) updates: the test sample Predict was asked about, one of them shown."""
    hidden = gr.update(visible=False, value=None)
    if file or not visitor.run_id:
        return hidden, hidden, hidden  # an uploaded batch is listed in the table, not drawn
    try:
        config = session().config(visitor.run_id, owner=visitor.owner)
        d = config.data
        ds = data_step.load_data(d.source, d.label_column, d.modality, d.task, config.seed)
    except (OrcaError, gr.Error):
        return hidden, hidden, hidden
    i = int(min(max(sample or 0, 0), len(ds.x_test) - 1))
    x = _as_given(ds, ds.x_test[i:i + 1])
    target = [handlers._readable(ds, ds.y_test[i])]
    if ds.modality == "image":
        pixels, _ = render.gallery_items(x, target)[0]
        zoom = max(1, 160 // max(pixels.shape[:2]))  # an 8x8 digit drawn as 160x160 blocks, not a speck
        pixels = np.repeat(np.repeat(pixels, zoom, axis=0), zoom, axis=1)
        return gr.update(value=pixels, visible=True, label=f"#{i}: {target[0]}"), hidden, hidden
    if ds.modality == "sequence":
        return hidden, gr.update(value=render.signal_figure(x, target), visible=True), hidden
    names = list(ds.feature_names) or [f"feature {j}" for j in range(x.shape[-1])]
    rows = [[n, round(float(v), 4)] for n, v in zip(names, np.ravel(x))]
    return hidden, hidden, gr.update(value=rows, headers=messages.SAMPLE_ROW_HEADERS, visible=True)


def _as_given(ds, x: np.ndarray) -> np.ndarray:
    """Undo the per-channel input scaling of images and signals, so the sample looks as uploaded."""
    norm = ds.spec.get("input_scaling") or {}
    if not norm or ds.modality == "tabular":
        return x
    shape = (1, -1) + (1,) * (x.ndim - 2)  # (1, C, 1[, 1])
    return x * np.asarray(norm["std"], np.float32).reshape(shape) + np.asarray(norm["mean"], np.float32).reshape(shape)

