"""Step 3, align: objective, steps and rate; run controls; the live curve, projection and heatmap."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import option_widgets, step_header

MAIN = ["align.objective", "align.steps", "align.lr"]
ADVANCED = ["align.optimizer", "align.min_steps", "align.plateau_steps", "align.plateau_tolerance", "align.max_seconds",
            "align.projection_every", "align.projection_points"]


def build() -> dict:
    ui: dict = {}
    step_header("align")
    with gr.Row():
        ui["options"] = option_widgets(MAIN)
    with gr.Accordion(messages.ALIGN_ADVANCED, open=False):
        ui["options"].update(option_widgets(ADVANCED))
    with gr.Row():
        ui["start"] = gr.Button(messages.START, variant="primary", elem_id="align-start")
        ui["pause"] = gr.Button(messages.PAUSE, interactive=False, elem_id="align-pause")
        ui["resume"] = gr.Button(messages.RESUME, interactive=False, elem_id="align-resume")
        ui["step"] = gr.Button(messages.STEP, interactive=False, elem_id="align-step")
        ui["stop"] = gr.Button(messages.STOP, variant="stop", interactive=False, elem_id="align-stop")
    ui["status"] = gr.Markdown(messages.NO_RUN, elem_id="align-status")
    with gr.Row():
        ui["method"] = gr.Radio(messages.PROJECTION_CHOICES, value="pca", label=messages.PROJECTION_METHOD,
                                elem_id="projection-method", scale=1)
        ui["method_note"] = gr.Markdown(messages.PROJECTION_NOTES["pca"], elem_classes="hint")
    with gr.Row(equal_height=True):
        ui["loss_plot"] = gr.Plot(label=messages.OBJECTIVE_PLOT, elem_id="align-loss")
        ui["projection_plot"] = gr.Plot(label=messages.PROJECTION_PLOT, elem_id="align-projection")
    with gr.Row():  # the scrubber: step back through the frames, live or finished (app/live.py)
        ui["scrub"] = gr.Slider(0, 1, value=0, step=1, label=messages.SCRUB_LABEL, interactive=False,
                                elem_id="projection-scrub", scale=5)
        ui["scrub_live"] = gr.Button(messages.SCRUB_LIVE, elem_id="projection-live", scale=1, size="sm")
    ui["heatmap_plot"] = gr.Plot(label=messages.HEATMAP_PLOT, elem_id="align-heatmap")
    return ui
