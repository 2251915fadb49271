"""Step 2, backbone: the registry as a table, one pick, embedder and proxy options folded away."""
from __future__ import annotations

import gradio as gr

from orca_engine.session import backbone_choice, backbone_choices

from .. import messages
from .common import option_widget, option_widgets, step_header

ADVANCED = ["model.pretrained", "model.embedder_init", "model.max_tokens", "model.patch_size",
            "align.source_proxy", "align.source_samples", "align.samples_per_class", "align.pseudo_label_k",
            "seed"]


def human_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def backbone_rows() -> list[list[str]]:
    rows = []
    for b in backbone_choices():
        status = messages.AVAILABLE if b.available else messages.UNAVAILABLE.format(reason=b.reason)
        rows.append([b.name, b.kind, human_count(b.params), b.licence, "yes" if b.offline else "no", status,
                     b.description])
    return rows


def backbone_summary(name: str) -> str:
    b = backbone_choice(name)
    return messages.BACKBONE_CHOSEN.format(name=name, kind=b.kind, params=human_count(b.params), licence=b.licence,
                                           status=b.reason if b.available else messages.UNAVAILABLE.format(reason=b.reason))


def build() -> dict:
    ui: dict = {"options": {}}
    step_header("backbone")
    ui["options"]["model.backbone"] = option_widget("model.backbone")
    ui["summary"] = gr.Markdown(backbone_summary(ui["options"]["model.backbone"].value), elem_id="backbone-summary")
    gr.Dataframe(backbone_rows(), headers=messages.BACKBONE_TABLE_HEADERS, interactive=False, wrap=True,
                 elem_id="backbone-table")
    with gr.Accordion(messages.BACKBONE_ADVANCED, open=False):
        ui["options"].update(option_widgets(ADVANCED))
    return ui
