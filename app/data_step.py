"""Step 1, data: a bundled example or an upload, and what the engine understood of it."""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import gradio as gr

from orca_engine.config import DataConfig
from orca_engine.errors import OrcaError
from orca_engine.session import inspect_file, load_dataset

from . import messages, render
from .friendly import error_box
from .state import Visitor
from .uploads import uploaded_file

if TYPE_CHECKING:
    from orca_engine.session import Dataset

DATA_OUTPUTS = ("status", "class_counts", "preview_gallery", "preview_plot", "preview_table")


def use_example(visitor: Visitor, example: str, modality: str = "auto", task: str = "auto"):
    """Pick a bundled example and show what the engine understood of it."""
    visitor.data_source, visitor.label_column, visitor.source_name = example, "", ""
    return _data_view(visitor, modality, task)


def read_upload(visitor: Visitor, file: str | None, label_column: str | None = None, modality: str = "auto",
                task: str = "auto"):
    """Read an uploaded file; returns the data view plus the label-column picker."""
    try:
        path = uploaded_file(file)
    except OrcaError as err:
        return (error_box(err), *_hidden_previews(), gr.update(choices=[], value=None))
    if path is None:
        return (messages.NO_DATA, *_hidden_previews(), gr.update(choices=[], value=None))
    too_big = path.stat().st_size > messages.MAX_UPLOAD_MB * 1024 * 1024
    if too_big:
        text = messages.UPLOAD_TOO_LARGE.format(size_mb=path.stat().st_size / 2**20, limit_mb=messages.MAX_UPLOAD_MB)
        return (f'<div class="orca-error">⚠ {text}</div>', *_hidden_previews(), gr.update())
    try:
        info = inspect_file(path)
    except OrcaError as err:
        return (error_box(err), *_hidden_previews(), gr.update(choices=[], value=None))
    columns = [c["name"] for c in info.get("columns", [])]
    label = label_column if label_column in columns else info.get("label_guess", "")
    visitor.data_source, visitor.label_column, visitor.source_name = str(path), label or "", path.name
    picker = gr.update(choices=columns, value=label or None, visible=bool(columns))
    return (*_data_view(visitor, modality, task), picker)


def upload_cleared(visitor: Visitor):
    """The upload box was emptied: step 1 forgets that file (and any error it caused)."""
    if visitor.source_name:
        visitor.data_source, visitor.label_column, visitor.source_name = "", "", ""
    return (messages.NO_DATA, *_hidden_previews(), gr.update(choices=[], value=None), "")


def _data_view(visitor: Visitor, modality: str, task: str):
    try:
        ds = load_data(visitor.data_source, visitor.label_column, modality, task, seed=0)
    except OrcaError as err:
        return (error_box(err), *_hidden_previews())
    report = ds.report
    counts = render.class_count_rows(report)
    preview = ds.preview(8)
    kind = preview["kind"]
    return (render.data_summary(report),
            gr.update(value=counts, headers=render.class_count_headers(report), visible=bool(counts)),
            gr.update(value=render.gallery_items(preview["x"], preview["targets"]) if kind == "image" else None,
                      visible=kind == "image"),
            gr.update(value=render.signal_figure(preview["x"], preview["targets"]) if kind == "signal" else None,
                      visible=kind == "signal"),
            _table_update(preview) if kind == "table" else gr.update(visible=False))


def _table_update(preview: dict) -> Any:
    rows = render.table_preview(preview["rows"], preview["targets"])
    headers = (list(preview["rows"][0]) if preview["rows"] else []) + ["target"]
    return gr.update(value=rows, headers=headers, visible=True)


def _hidden_previews() -> tuple:
    return (gr.update(visible=False),) * (len(DATA_OUTPUTS) - 1)


@functools.lru_cache(maxsize=4)
def load_data(source: str, label_column: str, modality: str, task: str, seed: int) -> Dataset:
    """The dataset as the engine sees it (cached: previews and 'try it' reuse it)."""
    if not source:
        raise gr.Error(messages.NEED_DATA)
    cfg = DataConfig(source=source, label_column=label_column, modality=modality or "auto", task=task or "auto",
                     max_samples=messages.MAX_SAMPLES)
    return load_dataset(cfg, seed)
