"""The run bar: one set of controls (pause, step, resume, stop) for whichever stage is running.

It is pinned to the bottom of the window (assets/style.css) and shown only while the visitor's
run is queued, running or paused, so the controls are where the run is, whatever step is in view.
"""
from __future__ import annotations

import gradio as gr

from .. import messages


def build() -> dict:
    ui: dict = {}
    with gr.Row(elem_id="run-bar", visible=False, equal_height=True) as bar:
        ui["bar"] = bar
        ui["status"] = gr.Markdown("", elem_id="run-bar-status")
        ui["pause"] = gr.Button(messages.PAUSE, interactive=False, elem_id="run-pause", size="sm", min_width=80)
        ui["resume"] = gr.Button(messages.RESUME, interactive=False, elem_id="run-resume", size="sm", min_width=80)
        ui["step"] = gr.Button(messages.STEP, interactive=False, elem_id="run-step", size="sm", min_width=80)
        ui["stop"] = gr.Button(messages.STOP, variant="stop", interactive=False, elem_id="run-stop", size="sm",
                               min_width=80)
    return ui
