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


def short_status(name: str) -> str:
    """'available', or 'unavailable: <first clause of the reason>' (the table's narrow column)."""
    b = backbone_choice(name)
    return messages.AVAILABLE if b.available else messages.UNAVAILABLE.format(reason=b.reason.split(";")[0])


def backbone_rows() -> list[list[str]]:
    return [[b.name, short_status(b.name), b.kind, human_count(b.params), b.licence, "yes" if b.offline else "no",
             b.description] for b in backbone_choices()]


def picker_choices() -> list[tuple[str, str]]:
    """The picker's entries: an unavailable backbone says so in its label (starting it is refused)."""
    return [(b.name if b.available else messages.BACKBONE_CHOICE_UNAVAILABLE.format(name=b.name), b.name)
            for b in backbone_choices()]


def unavailable_reason(name: str) -> str:
    """Why backbone `name` cannot be started here ("" when it can)."""
    if name not in {b.name for b in backbone_choices()}:
        return ""  # the config's validation names the allowed values
    b = backbone_choice(name)
    return "" if b.available else b.reason


def backbone_summary(name: str) -> str:
    b = backbone_choice(name)
    text = messages.BACKBONE_CHOSEN.format(name=name, kind=b.kind, params=human_count(b.params), licence=b.licence,
                                           status=messages.AVAILABLE if b.available else
                                           messages.UNAVAILABLE.format(reason=b.reason))
    return text if b.available else f'<div class="orca-warning">⚠ {text}</div>'


def build() -> dict:
    ui: dict = {"options": {}}
    step_header("backbone")
    ui["options"]["model.backbone"] = option_widget("model.backbone", choices=picker_choices())
    ui["summary"] = gr.Markdown(backbone_summary(ui["options"]["model.backbone"].value), elem_id="backbone-summary")
    gr.Dataframe(backbone_rows(), headers=messages.BACKBONE_TABLE_HEADERS, interactive=False, wrap=True,
                 column_widths=["11%", "17%", "7%", "9%", "9%", "7%", "40%"], elem_id="backbone-table")
    with gr.Accordion(messages.BACKBONE_ADVANCED, open=False):
        ui["options"].update(option_widgets(ADVANCED))
    return ui
