"""Step 2, backbone: the registry as a table, one pick, embedder and proxy options folded away."""
from __future__ import annotations

import gradio as gr

from orca_engine.backbones import BACKBONES, backbone_status

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
    available, reason = backbone_status(name)
    return messages.AVAILABLE if available else messages.UNAVAILABLE.format(reason=reason.split(";")[0])


def backbone_rows() -> list[list[str]]:
    return [[name, short_status(name), spec.kind, human_count(spec.params), spec.licence,
             "yes" if spec.offline else "no", spec.description] for name, spec in BACKBONES.items()]


def backbone_choices() -> list[tuple[str, str]]:
    """The picker's entries: an unavailable backbone says so in its label (starting it is refused)."""
    return [(name if backbone_status(name)[0] else messages.BACKBONE_CHOICE_UNAVAILABLE.format(name=name), name)
            for name in BACKBONES.names()]


def unavailable_reason(name: str) -> str:
    """Why backbone `name` cannot be started here ("" when it can)."""
    if name not in BACKBONES.names():
        return ""  # the config's validation names the allowed values
    available, reason = backbone_status(name)
    return "" if available else reason


def backbone_summary(name: str) -> str:
    spec = BACKBONES.get(name)
    available, reason = backbone_status(name)
    text = messages.BACKBONE_CHOSEN.format(name=name, kind=spec.kind, params=human_count(spec.params),
                                           licence=spec.licence, status=messages.AVAILABLE if available else
                                           messages.UNAVAILABLE.format(reason=reason))
    return text if available else f'<div class="orca-warning">⚠ {text}</div>'



def build() -> dict:
    ui: dict = {"options": {}}
    step_header("backbone")
    ui["options"]["model.backbone"] = option_widget("model.backbone", choices=backbone_choices())
    ui["summary"] = gr.Markdown(backbone_summary(ui["options"]["model.backbone"].value), elem_id="backbone-summary")
    gr.Dataframe(backbone_rows(), headers=messages.BACKBONE_TABLE_HEADERS, interactive=False, wrap=True,
                 column_widths=["11%", "17%", "7%", "9%", "9%", "7%", "40%"], elem_id="backbone-table")
    with gr.Accordion(messages.BACKBONE_ADVANCED, open=False):
        ui["options"].update(option_widgets(ADVANCED))
    return ui
