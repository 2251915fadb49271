"""Step 4, refine: scope, epochs and rate; Start or Tune (the run bar steers them); the live loss and validation."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import step_options

MAIN = ["refine.scope", "refine.epochs", "refine.lr"]
TUNE = ["tune.trials", "tune.max_seconds", "tune.trial_steps_scale"]
ADVANCED = ["refine.optimizer", "refine.new_layers_lr_scale", "refine.batch_size", "refine.target_epochs",
            "refine.min_steps", "refine.max_steps", "refine.max_seconds", "refine.eval_every", "refine.select_on",
            "refine.augment", "refine.augment_probability", "refine.tta", "refine.soup",
            "refine.members", "refine.head_first_fraction", "refine.warmup_fraction", "refine.weight_decay",
            "refine.grad_clip", "refine.early_stopping", "refine.patience", "refine.class_weights"]


def build() -> dict:
    ui: dict = {"options": step_options("refine", MAIN, (messages.REFINE_ADVANCED, ADVANCED),
                                        (messages.TUNE_ADVANCED, TUNE))}
    gr.Markdown(messages.REFINE_WITHOUT_ALIGN, elem_classes="hint")
    with gr.Row():
        ui["start"] = gr.Button(messages.START, variant="primary", elem_id="refine-start")
        ui["tune"] = gr.Button(messages.TUNE, elem_id="refine-tune")
    ui["estimate"] = gr.Markdown("", elem_id="refine-estimate", elem_classes="hint")
    ui["status"] = gr.Markdown(messages.NO_RUN, elem_id="refine-status")
    ui["curves_plot"] = gr.Plot(label=messages.REFINE_PLOT, elem_id="refine-curves")
    gr.Markdown(messages.LOOK["curves"], elem_classes="hint look")
    gr.Markdown(messages.TUNE_HINT, elem_classes="hint")
    ui["trials"] = gr.Dataframe(headers=messages.TRIAL_HEADERS, interactive=False, elem_id="tune-trials",
                                wrap=True)
    return ui
