"""Step 7, compare: the visitor's finished runs on one dataset, as a table and a chart with error bars.
It refreshes by itself when a new test result appears; the button refreshes it on demand."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import step_header


def build() -> dict:
    ui: dict = {}
    step_header("compare")
    ui["refresh"] = gr.Button(messages.COMPARE_BUTTON, elem_id="compare-refresh")
    ui["note"] = gr.Markdown(messages.COMPARE_EMPTY, elem_id="compare-note")
    ui["table"] = gr.Dataframe(headers=messages.COMPARE_HEADERS, label=messages.COMPARE_TABLE, interactive=False,
                               wrap=True, elem_id="compare-table")  # full width: no column is clipped
    ui["chart"] = gr.Plot(elem_id="compare-chart")
    return ui
