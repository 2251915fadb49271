"""Widgets built from the config's field metadata: defaults, limits, help and choices have one source."""
from __future__ import annotations

from typing import Any

import gradio as gr

from orca_engine.config import allowed_choices, iter_options

from .. import messages

OPTIONS = {name: (f, default) for name, f, default in iter_options()}


def option_widget(name: str, **overrides: Any) -> gr.components.Component:
    """A widget for config option `name` (dotted), labelled from messages and explained by its help line."""
    f, default = OPTIONS[name]
    kwargs: dict[str, Any] = {"label": messages.LABELS.get(name, name), "info": f.metadata.get("help"),
                              "value": default, "elem_id": "opt-" + name.replace(".", "-")}
    kwargs.update(overrides)
    choices = kwargs.pop("choices", None) or allowed_choices(f)
    if isinstance(default, bool):
        return gr.Checkbox(**kwargs)
    if choices is not None:
        return gr.Dropdown(choices=list(choices), **kwargs)
    lo_hi = f.metadata.get("range")
    limits = {"minimum": lo_hi[0], "maximum": lo_hi[1]} if lo_hi else {}
    if isinstance(default, int):
        return gr.Number(precision=0, **limits, **kwargs)
    if isinstance(default, float):
        return gr.Number(**limits, **kwargs)
    return gr.Textbox(**kwargs)


def option_widgets(names: list[str]) -> dict[str, gr.components.Component]:
    return {name: option_widget(name) for name in names}


def step_options(key: str, main: list[str], *folded: tuple[str, list[str]]) -> dict[str, gr.components.Component]:
    """A step's header, its main options in a row, then each (title, names) folded away; the widgets by name."""
    step_header(key)
    with gr.Row():
        options = option_widgets(main)
    for title, names in folded:
        with gr.Accordion(title, open=False):
            options.update(option_widgets(names))
    return options


def step_header(key: str) -> gr.Markdown:
    title, explanation = messages.STEPS[key]
    return gr.Markdown(f"## {title}\n{explanation}", elem_classes="step-header")


def status_and_files(status_id: str, files: dict[str, tuple[str, str, bool]]) -> dict[str, gr.components.Component]:
    """A status line, then a row of read-only download slots: {key: (label, elem_id, several files)}."""
    ui: dict[str, gr.components.Component] = {"status": gr.Markdown("", elem_id=status_id)}
    with gr.Row():
        for key, (label, elem_id, several) in files.items():
            ui[key] = gr.File(label=label, file_count="multiple" if several else "single", interactive=False,
                              elem_id=elem_id)
    return ui
