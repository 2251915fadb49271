"""The lesson picker (top of the page): a recorded run that plays at once, its guide, and align vs no-align."""
from __future__ import annotations

import gradio as gr

from .. import lesson_text, lessons, messages


def build() -> dict:
    ui: dict = {}
    gr.Markdown(messages.LESSON_HEADING, elem_classes="step-header")
    found = lessons.choices()
    with gr.Row():
        ui["pick"] = gr.Dropdown(found, value=found[0][1] if found else None, label=messages.LESSON_PICK,
                                 elem_id="lesson-pick", scale=3)
        ui["play"] = gr.Button(messages.LESSON_PLAY, variant="primary", elem_id="lesson-play", scale=1)
        ui["show_guide"] = gr.Checkbox(True, label=messages.SHOW_GUIDE, elem_id="lesson-show-guide", scale=1)
    ui["status"] = gr.Markdown("" if found else messages.NO_LESSONS, elem_id="lesson-status")
    ui["summary"] = gr.Markdown("", elem_id="lesson-summary")
    with gr.Group(visible=True) as ui["guide_box"]:
        ui["guide"] = gr.Markdown(lesson_text.CLAIM, elem_id="lesson-guide")
        with gr.Row():
            ui["prediction"] = gr.Radio(lesson_text.CHOICES, label=messages.PREDICT_LABEL, elem_id="lesson-predict",
                                        scale=3)
            ui["reveal"] = gr.Button(messages.REVEAL_BUTTON, elem_id="lesson-reveal", scale=1)
        ui["answer"] = gr.Markdown("", elem_id="lesson-answer")
    with gr.Accordion(messages.PAIR_PLOT, open=True):
        ui["pair_start"] = gr.Button(messages.PAIR_BUTTON, elem_id="pair-start")
        ui["pair_status"] = gr.Markdown("", elem_id="pair-status")
        with gr.Row(equal_height=True):
            ui["pair_plot"] = gr.Plot(elem_id="pair-plot", scale=3)
            ui["pair_table"] = gr.Dataframe(headers=messages.PAIR_HEADERS, interactive=False, elem_id="pair-table",
                                            scale=2)
    return ui
