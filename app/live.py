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

from . import classroom, lessons, messages, render
from .server import session
from .state import TERMINAL, Visitor

WATCHING = ("queued", "running", "paused")

POLL_OUTPUTS = ("align_status", "refine_status", "loss_plot", "projection_plot", "heatmap_plot", "curves_plot",
                "test_status", "test_metrics", "test_plot", "trial_table", "run_bar", "run_status", "run_pause",
                "run_resume", "run_step", "run_stop", "projection_scrub", "lesson_guide", "pair_plot", "pair_table",
                "timer")
LESSON_OUTPUTS = {"lesson_guide": "guide", "pair_plot": "pair_plot", "pair_table": "pair_table"}  # -> lesson tab
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
        view.apply_all(visitor.replay.due())
        if visitor.replay.done:
            visitor.replay = None  # kept as visitor.last_replay, to share or export
        return None
    if not visitor.run_id:
        return None
    try:  # through the classroom: a visitor watching a shared run reads it too
        view.apply_all(classroom.shared().events(visitor.run_id, view.cursor, visitor.owner))
        return classroom.with_queue_eta(classroom.shared().status(visitor.run_id, visitor.owner))
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
             "run_status": render.run_bar_text(status, rate) if state in WATCHING else ""}
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
    out["projection_scrub"] = scrub_update(visitor) if visitor.needs_redraw("projection_scrub", "projection") \
        else gr.skip()
    out.update(lesson_updates(visitor))
    replaying = visitor.replay is not None or lessons.pair_active(visitor)
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
        text = visitor.replay.note or messages.REPLAYING.format(name=view.run_id)
    else:
        text = messages.NO_RUN
    if visitor.replay is not None and visitor.replay.note and text != visitor.replay.note:
        text = visitor.replay.note + "\n\n" + text
    elif status is not None and status.state in WATCHING and classroom.is_shared_with_me(visitor):
        text = messages.ATTACHED.format(viewers=classroom.shared().viewers(visitor.run_id)) + "\n\n" + text
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
            "eta_s": status.eta_s if status is not None else None,
            "align_losses": view.align_losses, "refine_losses": view.refine_losses,
            "validation": view.val_metrics, "test_metrics": view.test_metrics,
            "align": view.stage_metrics.get("align", {}), "warnings": view.warnings, "error": view.error,
            "projection_frames": view.revisions["projection"], "events_seen": view.cursor}


# -- the scrubber: step back through the projection frames of a run, live or finished ----------------

def scrub_update(visitor: Visitor) -> Any:
    """The slider's range follows the frames; its handle follows the newest unless the visitor moved it."""
    frames = visitor.view.frames
    last = max(len(frames) - 1, 0)
    if visitor.view.scrub is None:
        return gr.update(maximum=max(last, 1), value=last, interactive=bool(frames))
    return gr.update(maximum=max(last, 1), interactive=True)


def scrub(visitor: Visitor, index: float | None):
    """Show projection frame `index` (the ghost and the centre's path up to it)."""
    view = visitor.view
    if view.frames:
        view.scrub = int(index or 0) if int(index or 0) < len(view.frames) - 1 else None
    visitor.needs_redraw("projection_plot", "projection")  # the poll need not draw it again
    return render.projection_figure(view)


def follow_live(visitor: Visitor):
    """Back to the newest frame; the projection follows the run again."""
    visitor.view.scrub = None
    visitor.needs_redraw("projection_plot", "projection")
    return render.projection_figure(visitor.view), scrub_update(visitor)


def lesson_updates(visitor: Visitor) -> dict[str, Any]:
    """The guide follows the shown run's stage; the pair's figure and table follow its two runs."""
    out: dict[str, Any] = {"lesson_guide": gr.skip(), "pair_plot": gr.skip(), "pair_table": gr.skip()}
    text = lessons.guide(visitor)
    if visitor.drawn.get("lesson_guide") != hash(text):
        visitor.drawn["lesson_guide"] = hash(text)
        out["lesson_guide"] = text
    if lessons.feed_pair(visitor) or visitor.drawn.get("pair") != len(visitor.pair):
        visitor.drawn["pair"] = len(visitor.pair)
        out["pair_plot"], out["pair_table"] = lessons.pair_figure(visitor), lessons.pair_rows(visitor)
    return out
