"""Step 5, test: held-out metrics, confusion matrix or predicted-vs-true, and a "try it" box."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import step_header
from .data import UPLOAD_TYPES


def build() -> dict:
    ui: dict = {}
    step_header("test")
    ui["status"] = gr.Markdown(messages.NO_TEST_YET, elem_id="test-status")
    with gr.Row(equal_height=True):
        ui["metrics"] = gr.Dataframe(headers=["metric", "value"], label=messages.TEST_METRICS, interactive=False,
                                     elem_id="test-metrics", scale=1)
        with gr.Column(scale=2):
            ui["plot"] = gr.Plot(label=messages.TEST_PLOT, elem_id="test-plot")
            gr.Markdown(messages.LOOK["test"], elem_classes="hint look")
    with gr.Row():
        ui["sample"] = gr.Number(0, precision=0, minimum=0, label=messages.TRY_SAMPLE, elem_id="try-sample")
        ui["upload"] = gr.File(label=messages.TRY_UPLOAD, file_types=UPLOAD_TYPES, elem_id="try-upload")
        ui["predict"] = gr.Button(messages.TRY_BUTTON, elem_id="try-predict")
    with gr.Row(equal_height=True):
        ui["prediction"] = gr.Dataframe(headers=messages.PREDICTION_HEADERS, interactive=False,
                                        elem_id="try-prediction", scale=1)
        ui["sample_image"] = gr.Image(label=messages.TRY_SHOWN, visible=False, interactive=False, height=220,
                                      elem_id="try-sample-image", scale=1)
        ui["sample_plot"] = gr.Plot(label=messages.TRY_SHOWN, visible=False, elem_id="try-sample-plot", scale=1)
        ui["sample_table"] = gr.Dataframe(label=messages.TRY_SHOWN, visible=False, interactive=False,
                                          elem_id="try-sample-table", scale=1)
    return ui
