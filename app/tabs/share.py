"""For slides and sharing: the alignment as a GIF, the figures as PNG, and a read-only share link."""
from __future__ import annotations

import gradio as gr

from .. import messages
from .common import status_and_files


def build() -> dict:
    ui: dict = {}
    gr.Markdown(messages.SHARE_HEADING)
    with gr.Row():
        ui["gif"] = gr.Button(messages.GIF_BUTTON, elem_id="share-gif")
        ui["png"] = gr.Button(messages.PNG_BUTTON, elem_id="share-png")
        ui["link"] = gr.Button(messages.SHARE_BUTTON, elem_id="share-link")
    ui.update(status_and_files("share-status", {"gif_file": (messages.GIF_FILE, "share-gif-file", False),
                                                "png_files": (messages.PNG_FILES, "share-png-files", True)}))
    return ui
