"""The page's poll (gr.Timer tick): read the run's new events, fold them, redraw only what changed.

A figure is rebuilt only when its part of the view moved, and sent as a Plotly figure whose
`uirevision` keeps the user's zoom; a status line is sent only when its text changed; everything
unchanged is `gr.skip()`, so a tick with nothing new costs the browser nothing. The poll reads from
the view's event cursor, so a tick that comes late folds everything it missed at once; a slow
watchdog timer restarts the poll if it ever stopped while the run goes on.
"""
from __future__ import annotations

import time
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
                "test_status", "test_metrics", "test_plot", "trial_table", "run_bar", "run_status", "run_pause",
                "run_resume", "run_step", "run_stop", "timer")
TEXT_OUTPUTS = ("align_status", "refine_status", "test_status", "run_status")
BUTTONS = ("run_pause", "run_resume", "run_step", "run_stop")
FIGURE_MIN_INTERVAL_S = 1.0  # while a run goes on, a figure is redrawn at most this often (the browser's CPU)
WATCHDOG_SECONDS = 5.0  # the watchdog timer's period; a poll silent for longer than this is restarted
STEP_RATES: dict[tuple[str, str], float] = {}  # (backbone, stage) -> latest measured s/step on this server

# figure output -> (view revision it follows, builder)
FIGURE_OUTPUTS = {
    "loss_plot": ("align", render.align_loss_figure),
    "projection_plot": ("projection", render.projection_figure),
    "heatmap_plot": ("distances", render.heatmap_figure),
    "curves_plot": ("refine", render.refine_figure),
    "test_plot": ("test", render.test_figure),
    "trial_table": ("trials", render.trial_rows),
}

BUTTONS_BY_STATE = {  # (pause, resume, step, stop) interactive?
    "queued": (True, False, False, True),  # a pause set now holds the run before its first step
    "running": (True, False, False, True),
    "paused": (False, True, True, True),
}
NO_BUTTONS = (False,) * 4


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
    """One tick: changed status lines and figures, the run bar, and whether to keep ticking."""
    visitor.last_poll = time.time()
    status = catch_up(visitor)
    state = status.state if status is not None else (visitor.view.outcome or "")
    rate = visitor.view.seconds_per_step()
    if status is not None and rate is not None and status.stage in ("align", "refine"):
        STEP_RATES[(str(visitor.view.config.get("model", {}).get("backbone", "")), status.stage)] = rate
    texts = {"align_status": align_status(visitor, status, rate),
             "refine_status": refine_status(visitor, status, rate),
             "test_status": test_status(visitor),
             "run_status": run_bar_text(status, rate) if state in WATCHING else ""}
    out: dict[str, Any] = {name: _if_changed(visitor, name, text) for name, text in texts.items()}
    now = time.monotonic()
    for name, (revision, build) in FIGURE_OUTPUTS.items():
        due = state not in WATCHING or now - visitor.redrawn_at.get(name, -1e9) >= FIGURE_MIN_INTERVAL_S
        if due and visitor.needs_redraw(name, revision):  # else a later tick sends it, with what came meanwhile
            out[name], visitor.redrawn_at[name] = build(visitor.view), now
        else:
            out[name] = gr.skip()
    out["test_metrics"] = (render.test_metric_rows(visitor.view) if visitor.needs_redraw("test_metrics", "test")
                           else gr.skip())
    out.update(button_updates(visitor, state))
    replaying = visitor.replay is not None
    out["timer"] = gr.skip() if state in WATCHING or replaying else gr.Timer(active=False)
    return tuple(out[name] for name in POLL_OUTPUTS)


def _if_changed(visitor: Visitor, name: str, value: Any) -> Any:
    return gr.skip() if visitor.changed(name, value) is None else value


def button_updates(visitor: Visitor, state: str) -> dict[str, Any]:
    """The run bar: shown while the run is queued, running or paused, its buttons as the state allows."""
    if state == visitor.last_state:
        return {name: gr.skip() for name in ("run_bar", *BUTTONS)}
    visitor.last_state = state
    flags = BUTTONS_BY_STATE.get(state, NO_BUTTONS)
    return {"run_bar": gr.update(visible=state in WATCHING),
            **{name: gr.update(interactive=flag) for name, flag in zip(BUTTONS, flags)}}


def watchdog(visitor: Visitor) -> Any:
    """The slow timer's tick: restart the poll when the visitor's run goes on but no poll came lately
    (a stopped timer, a dropped tick). The restarted poll reads from the view's cursor, so it catches up."""
    if visitor.run_id and time.time() - visitor.last_poll > WATCHDOG_SECONDS:
        try:
            state = session().status(visitor.run_id, owner=visitor.owner).state
        except OrcaError:
            return gr.skip()
        if state in WATCHING:
            return gr.Timer(active=True)
    return gr.skip()


def run_bar_text(status, rate: float | None) -> str:
    if status is None:
        return ""
    stage = messages.RUN_BAR_STAGES.get(status.stage, status.stage)
    return messages.RUN_BAR_TEXT.format(stage=stage, progress=render.progress_text(status, rate))


def umap_ready() -> bool:
    return projection_status().umap_ready


def align_status(visitor: Visitor, status, rate: float | None = None) -> str:
    view = visitor.view
    if status is not None and status.state in WATCHING and status.stage in ("", "prepare", "align"):
        text = render.progress_text(status, rate)
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
    warnings = render.warnings_text(view, stages=("prepare", "align"))
    return text + ("\n\n" + warnings if warnings else "")


def refine_status(visitor: Visitor, status, rate: float | None = None) -> str:
    view = visitor.view
    if status is not None and status.stage in ("refine", "tune", "evaluate") and status.state in WATCHING:
        text = render.progress_text(status, rate)
    elif view.outcome in TERMINAL and (view.stage in ("refine", "tune", "evaluate") or "align" not in view.stage_metrics):
        text = render.outcome_text(view)
    elif "refine" in view.stage_metrics:
        text = messages.STATE_NAMES["finished"]
    else:
        return messages.NO_RUN
    warnings = render.warnings_text(view, stages=("refine", "tune", "evaluate"))
    return text + ("\n\n" + warnings if warnings else "")


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
