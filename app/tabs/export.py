"""Step 6, export: the run zip, the reproducing command line, the figures, and replay of earlier runs."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import status_and_files, step_header


def build() -> dict:
    ui: dict = {}
    step_header("export")
    ui["prepare"] = gr.Button(messages.EXPORT_BUTTON, elem_id="export-prepare")
    ui.update(status_and_files("export-status", {"zip": (messages.EXPORT_FILE, "export-zip", False),
                                                 "figures": (messages.FIGURES_FILE, "export-figures", True)}))
    ui["command"] = gr.Code(label=messages.COMMAND_LINE, language="shell", interactive=False,
                            elem_id="export-command")
    gr.Markdown(messages.REPLAY_HEADING)
    with gr.Row():
        ui["runs"] = gr.Dropdown([], label=messages.REPLAY_PICK, allow_custom_value=True, elem_id="replay-runs")
        ui["replay_file"] = gr.File(label=messages.REPLAY_UPLOAD, file_types=[".zip", ".jsonl"],
                                    elem_id="replay-file")
        ui["replay"] = gr.Button(messages.REPLAY_BUTTON, elem_id="replay")
    return ui
