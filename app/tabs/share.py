"""For slides and sharing: the alignment as a GIF, the figures as PNG, and a read-only share link."""
from __future__ import annotations

import gradio as gr

from .. import messages


def build() -> dict:
    ui: dict = {}
    gr.Markdown(messages.SHARE_HEADING)
    with gr.Row():
        ui["gif"] = gr.Button(messages.GIF_BUTTON, elem_id="share-gif")
        ui["png"] = gr.Button(messages.PNG_BUTTON, elem_id="share-png")
        ui["link"] = gr.Button(messages.SHARE_BUTTON, elem_id="share-link")
    ui["status"] = gr.Markdown("", elem_id="share-status")
    with gr.Row():
        ui["gif_file"] = gr.File(label=messages.GIF_FILE, interactive=False, elem_id="share-gif-file")
        ui["png_files"] = gr.File(label=messages.PNG_FILES, file_count="multiple", interactive=False,
                                  elem_id="share-png-files")
    return ui
