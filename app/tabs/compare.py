"""Step 7, compare: the visitor's finished runs on one dataset, as a table and a chart with error bars."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import step_header


def build() -> dict:
    ui: dict = {}
    step_header("compare")
    ui["refresh"] = gr.Button(messages.COMPARE_BUTTON, elem_id="compare-refresh")
    ui["note"] = gr.Markdown(messages.COMPARE_EMPTY, elem_id="compare-note")
    with gr.Row(equal_height=True):
        ui["table"] = gr.Dataframe(headers=messages.COMPARE_HEADERS, label=messages.COMPARE_TABLE,
                                   interactive=False, elem_id="compare-table", scale=3)
        ui["chart"] = gr.Plot(elem_id="compare-chart", scale=2)
    return ui
