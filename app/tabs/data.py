"""Step 1, data: a bundled example or an upload, and what the engine understood of it."""
from __future__ import annotations

import gradio as gr

from orca_engine.session import DATA_SUFFIXES, example_choices as engine_examples

from .. import messages
from .common import option_widgets, step_header

ADVANCED = ["data.modality", "data.task", "data.val_fraction", "data.test_fraction", "data.train_fraction"]
UPLOAD_TYPES = list(DATA_SUFFIXES)  # the engine's registry of file formats (orca_engine.formats)


def example_choices() -> list[tuple[str, str]]:
    return [(f"{name}: {description}", name) for name, description in engine_examples()]


def build() -> dict:
    ui: dict = {}
    step_header("data")
    with gr.Row():
        with gr.Column(scale=1):
            ui["example"] = gr.Dropdown(example_choices(), value=engine_examples()[0][0], label=messages.EXAMPLE_LABEL,
                                        elem_id="example-picker")
            ui["use_example"] = gr.Button(messages.USE_EXAMPLE, variant="primary", elem_id="use-example")
        with gr.Column(scale=1):
            ui["upload"] = gr.File(label=messages.UPLOAD_LABEL, file_types=UPLOAD_TYPES, elem_id="data-upload")
            gr.Markdown(messages.UPLOAD_HELP, elem_classes="hint")
            ui["label_column"] = gr.Dropdown([], value=None, label=messages.LABELS["data.label_column"],
                                             allow_custom_value=True, interactive=True, elem_id="label-column")
    ui["status"] = gr.Markdown(messages.NO_DATA, elem_id="data-status")
    ui["cleared"] = gr.Markdown("", elem_id="data-cleared", elem_classes="hint")
    with gr.Row():
        ui["class_counts"] = gr.Dataframe(label=messages.CLASS_COUNTS, visible=False, interactive=False,
                                          elem_id="class-counts")
        ui["preview_gallery"] = gr.Gallery(label=messages.PREVIEW, visible=False, columns=8, height=220,
                                           elem_id="preview-gallery")
        ui["preview_plot"] = gr.Plot(label=messages.PREVIEW, visible=False, elem_id="preview-plot")
        ui["preview_table"] = gr.Dataframe(label=messages.PREVIEW, visible=False, interactive=False,
                                           elem_id="preview-table")
    with gr.Accordion(messages.DATA_ADVANCED, open=False):
        ui["options"] = option_widgets(ADVANCED)
    return ui
