"""Step 3, align: objective, steps and rate; Start and the cost estimate; the live curve, projection and heatmap.

Pause, step, resume and stop live in the run bar (`tabs/runbar.py`), which follows the running stage."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import step_options

MAIN = ["align.objective", "align.steps", "align.lr"]
ADVANCED = ["align.optimizer", "align.min_steps", "align.plateau_steps", "align.plateau_tolerance", "align.max_seconds",
            "align.projection_every", "align.projection_points"]


def build() -> dict:
    ui: dict = {"options": step_options("align", MAIN, (messages.ALIGN_ADVANCED, ADVANCED))}
    ui["estimate"] = gr.Markdown("", elem_id="align-estimate", elem_classes="hint")
    ui["start"] = gr.Button(messages.START, variant="primary", elem_id="align-start")
    ui["status"] = gr.Markdown(messages.NO_RUN, elem_id="align-status")
    with gr.Row():
        ui["method"] = gr.Radio(messages.PROJECTION_CHOICES, value="pca", label=messages.PROJECTION_METHOD,
                                elem_id="projection-method", scale=1)
        ui["method_note"] = gr.Markdown(messages.PROJECTION_NOTES["pca"], elem_classes="hint")
    with gr.Row(equal_height=True):
        with gr.Column():
            ui["loss_plot"] = gr.Plot(label=messages.OBJECTIVE_PLOT, elem_id="align-loss")
            gr.Markdown(messages.LOOK["loss"], elem_classes="hint look")
        with gr.Column():
            ui["projection_plot"] = gr.Plot(label=messages.PROJECTION_PLOT, elem_id="align-projection")
            gr.Markdown(messages.LOOK["projection"], elem_classes="hint look")
    with gr.Row():  # the scrubber: step back through the frames, live or finished (app/live.py)
        ui["scrub"] = gr.Slider(0, 1, value=0, step=1, label=messages.SCRUB_LABEL, interactive=False,
                                elem_id="projection-scrub", scale=5)
        ui["scrub_live"] = gr.Button(messages.SCRUB_LIVE, elem_id="projection-live", scale=1, size="sm")
    ui["heatmap_plot"] = gr.Plot(label=messages.HEATMAP_PLOT, elem_id="align-heatmap")
    gr.Markdown(messages.LOOK["heatmap"], elem_classes="hint look")
    return ui
