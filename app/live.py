"""The page's poll (gr.Timer tick): read the run's new events, fold them, redraw only what changed.

A figure is rebuilt only when its part of the view moved, and sent as a Plotly figure whose
`uirevision` keeps the user's zoom; everything unchanged is `gr.skip()`, so nothing flickers.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from orca_engine.errors import OrcaError
from orca_engine.session import events_on_disk, projection_status

from . import messages, render
from .server import session
from .state import TERMINAL, Visitor

REPLAY_CHUNK = 25  # recorded events fed to the view per tick when replaying
WATCHING = ("queued", "running", "paused")

POLL_OUTPUTS = ("align_status", "refine_status", "loss_plot", "projection_plot", "heatmap_plot", "curves_plot",
                "test_status", "test_metrics", "test_plot", "trial_table", "align_pause", "align_resume",
                "align_step", "align_stop", "refine_stop", "timer")

# figure output -> (view revision it follows, builder)
FIGURE_OUTPUTS = {
    "loss_plot": ("align", render.align_loss_figure),
    "projection_plot": ("projection", render.projection_figure),
    "heatmap_plot": ("distances", render.heatmap_figure),
    "curves_plot": ("refine", render.refine_figure),
    "test_plot": ("test", render.test_figure),
    "trial_table": ("trials", render.trial_rows),
}

BUTTONS_BY_STATE = {  # (pause, resume, step, stop, refine stop) interactive?
    "queued": (False, False, False, True, True),
    "running": (True, False, False, True, True),
    "paused": (False, True, True, True, True),
}
NO_BUTTONS = (False,) * 5


def catch_up(visitor: Visitor):
    """Fold the events the visitor has not seen; the run's RunStatus, or None when replaying / gone."""
    view = visitor.view
    if visitor.replay is not None:
        chunk, visitor.replay = visitor.replay[:REPLAY_CHUNK], visitor.replay[REPLAY_CHUNK:]
        view.apply_all(chunk)
        if not visitor.replay:
            visitor.replay = None if view.outcome else []
        return None
    if not visitor.run_id:
        return None
    try:
        view.apply_all(session().events(visitor.run_id, since=view.cursor, owner=visitor.owner))
        return session().status(visitor.run_id, owner=visitor.owner)
    except OrcaError:  # released by the server: what happened is on disk
        if view.run_dir:
            try:
                view.apply_all(events_on_disk(view.run_dir))
            except OrcaError:
                pass
        return None


def poll(visitor: Visitor) -> tuple:
    """One tick: status lines, changed figures, button states, and whether to keep ticking."""
    status = catch_up(visitor)
    state = status.state if status is not None else (visitor.view.outcome or "")
    out: dict[str, Any] = {"align_status": align_status(visitor, status),
                           "refine_status": refine_status(visitor, status),
                           "test_status": test_status(visitor)}
    for name, (revision, build) in FIGURE_OUTPUTS.items():
        out[name] = build(visitor.view) if visitor.needs_redraw(name, revision) else gr.skip()
    out["test_metrics"] = (render.test_metric_rows(visitor.view) if visitor.needs_redraw("test_metrics", "test")
                           else gr.skip())
    out.update(button_updates(visitor, state))
    replaying = visitor.replay is not None
    out["timer"] = gr.skip() if state in WATCHING or replaying else gr.Timer(active=False)
    return tuple(out[name] for name in POLL_OUTPUTS)


def button_updates(visitor: Visitor, state: str) -> dict[str, Any]:
    names = ("align_pause", "align_resume", "align_step", "align_stop", "refine_stop")
    if state == visitor.last_state:
        return {name: gr.skip() for name in names}
    visitor.last_state = state
    flags = BUTTONS_BY_STATE.get(state, NO_BUTTONS)
    return {name: gr.update(interactive=flag) for name, flag in zip(names, flags)}


def umap_ready() -> bool:
    return projection_status().umap_ready


def align_status(visitor: Visitor, status) -> str:
    view = visitor.view
    if status is not None and status.state in WATCHING and status.stage in ("", "prepare", "align"):
        text = render.progress_text(status)
        if visitor.projection_method == "umap" and not umap_ready():
            text += f" · {messages.UMAP_STARTING_SHORT}"
    elif "align" in view.stage_metrics:
        text = render.align_summary(view.stage_metrics["align"])
    elif view.outcome in TERMINAL:
        text = render.outcome_text(view)
    elif visitor.replay is not None:
        text = messages.REPLAYING.format(name=view.run_id)
    else:
        text = messages.NO_RUN
    warnings = render.warnings_text(view)
    return text + ("\n\n" + warnings if warnings else "")


def refine_status(visitor: Visitor, status) -> str:
    view = visitor.view
    if status is not None and status.stage in ("refine", "tune", "evaluate") and status.state in WATCHING:
        return render.progress_text(status)
    if view.outcome in TERMINAL:
        return render.outcome_text(view)
    if "refine" in view.stage_metrics:
        return messages.STATE_NAMES["finished"]
    return messages.NO_RUN


def test_status(visitor: Visitor) -> str:
    return render.metrics_headline(visitor.view) if visitor.view.test_metrics else messages.NO_TEST_YET


def run_summary(visitor: Visitor) -> dict:
    """The visitor's run as plain data (for scripts through the API): state, curves, metrics."""
    status = catch_up(visitor)
    view = visitor.view
    return {"run_id": visitor.run_id or view.run_id,
            "state": status.state if status is not None else view.outcome,
            "stage": status.stage if status is not None else view.stage,
            "step": status.step if status is not None else 0,
            "total": status.total if status is not None else 0,
            "queue_position": status.queue_position if status is not None else 0,
            "align_losses": view.align_losses, "refine_losses": view.refine_losses,
            "validation": view.val_metrics, "test_metrics": view.test_metrics,
            "align": view.stage_metrics.get("align", {}), "warnings": view.warnings, "error": view.error,
            "projection_frames": view.revisions["projection"], "events_seen": view.cursor}
