"""Lessons on the page: play a recorded run at once, guide it stage by stage, and compare align vs no-align.

- `play` replays a lesson from `assets/lessons/` (no training, no queue); `autoplay` does so for a
  fresh page, so a teacher's Space shows a run the moment it opens.
- `guide` is the narrative for the stage the shown run is in (`app/lesson_text.py`).
- The *pair*: two runs on one dataset with the same seed and budget, one aligned and one not,
  followed side by side (`Visitor.pair`). A lesson brings a recorded pair; `start_pair` asks
  the classroom for a live one (identical requests share it, finished ones replay from the cache).
- `reveal` answers the checkpoint question from the pair's own numbers: test metrics, the
  rough seed-to-seed noise of a test score on that many samples, OTDD before and after, and the
  best classical baseline. Nothing canned.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from orca_engine.errors import OrcaError
from orca_engine.session import lesson_names, load_lesson

from . import classroom, lesson_text, messages, plots
from .replay import Replay
from .state import TERMINAL, RunView, Visitor

ROLES = {"aligned": "aligned (ORCA)", "no-align": "no alignment"}
LOWER_IS_BETTER = ("mse", "rmse", "mae", "loss", "relative_l2")


@dataclass
class Side:
    """One run of the pair: its folded view, fed from a replay or from the classroom's shared run."""
    role: str
    view: RunView
    replay: Replay | None = None
    run_id: str = ""

    @property
    def active(self) -> bool:
        return (self.replay is not None and not self.replay.done) or (bool(self.run_id) and not self.view.outcome)


# -- playing lessons ---------------------------------------------------------------------------------

def choices() -> list[tuple[str, str]]:
    """(title, name) of each installed lesson, in teaching order."""
    out = []
    for name in lesson_names():
        try:
            out.append((load_lesson(name).title, name))
        except (OSError, ValueError, OrcaError):
            continue
    return out


def play(visitor: Visitor, name: str | None):
    """Replay lesson `name`: its aligned run in the main view, its pair (if recorded) side by side."""
    if not name:
        raise gr.Error(messages.NO_LESSONS)
    try:
        lesson = load_lesson(name)
    except (OSError, ValueError, OrcaError) as err:
        raise gr.Error(f"{messages.NO_LESSONS} ({err})") from None
    from .handlers import _retire_current
    _retire_current(visitor)
    main = lesson.runs.get("aligned") or next(iter(lesson.runs.values()))
    replay = visitor.replay_events(lesson.title, main)
    replay.note = messages.LESSON_PLAYING.format(title=lesson.title, seconds=replay.duration_s)
    visitor.lesson = name
    visitor.pair = {role: Side(role, RunView(), Replay(list(records))) for role, records in lesson.runs.items()} \
        if len(lesson.runs) > 1 else {}
    return replay.note, lesson.summary, gr.Timer(active=True)


def autoplay(visitor: Visitor, request: gr.Request = None):
    """Page load: a share link (`?run=<id>`) replays that run, read-only; else a fresh page (no run to
    re-attach to) plays the first lesson at once (unless ORCA_LESSON_AUTOPLAY=0)."""
    shared_note = classroom.open_shared_link(visitor, request)
    if shared_note is not None:
        return shared_note, "", gr.Timer(active=visitor.replay is not None), gr.skip()
    names = lesson_names()
    if visitor.run_id or visitor.replay is not None or not names or os.environ.get("ORCA_LESSON_AUTOPLAY") == "0":
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    note, summary, timer = play(visitor, names[0])
    return note, summary, timer, gr.update(choices=choices(), value=names[0])


def guide(visitor: Visitor) -> str:
    """The narrative for the stage the shown run is in; the claim first, then the stage."""
    view = visitor.view
    stage = "done" if view.outcome == "finished" else view.stage
    return lesson_text.CLAIM + "\n\n" + lesson_text.STAGES.get(stage, lesson_text.STAGES[""])


# -- the pair: align vs no-align ---------------------------------------------------------------------

def start_pair(visitor: Visitor, values: dict[str, Any]):
    """Two runs of the visitor's settings, aligned and not (same seed and budget), side by side."""
    from . import limits
    from .handlers import _check_fair_use, run_config
    from .server import session
    from orca_engine.config import RunConfig
    aligned = run_config(visitor, values)
    if aligned.align.objective == "none":
        aligned = aligned.with_overrides({"align.objective": RunConfig().align.objective})
    plain = aligned.with_overrides({"align.objective": "none"})
    _check_fair_use(visitor, aligned)
    leave_pair(visitor)
    pair, notes = {}, []
    for role, config in (("aligned", aligned), ("no-align", plain)):
        ticket = classroom.shared().request(config, ("align", "refine", "evaluate"), viewer=visitor.owner,
                                            projection_method=visitor.projection_method,
                                            source_name=visitor.source_name or None,
                                            before_start=lambda: limits.PUBLIC.check_live_runs(
                                                session().active_count(visitor.owner)))
        side = Side(role, RunView())
        if ticket.kind == "replay":
            side.replay = Replay(list(ticket.records))
            notes.append(f"{ROLES[role]}: " + classroom.replay_note(ticket, side.replay.duration_s))
        else:
            side.run_id = ticket.run_id
            notes.append(f"{ROLES[role]}: " + (messages.ATTACHED.format(viewers=classroom.shared().viewers(
                ticket.run_id)) if ticket.kind == "attached" else messages.STATE_NAMES["queued"]))
        pair[role] = side
    visitor.pair = pair
    return "\n\n".join(notes), gr.Timer(active=True)


def leave_pair(visitor: Visitor) -> None:
    """Stop following the pair; a run only this visitor watched is stopped."""
    from .server import session
    for side in visitor.pair.values():
        if side.run_id and not classroom.shared().leave(side.run_id, visitor.owner):
            try:
                session().discard(side.run_id, owner=visitor.owner)
            except OrcaError:
                pass
    visitor.pair = {}


def feed_pair(visitor: Visitor) -> bool:
    """Fold each side's new events; True when anything changed."""
    changed = False
    for side in visitor.pair.values():
        before = side.view.cursor
        if side.replay is not None:
            side.view.apply_all(side.replay.due())
        elif side.run_id:
            try:
                side.view.apply_all(classroom.shared().events(side.run_id, side.view.cursor, visitor.owner))
            except OrcaError:
                side.run_id = ""
        changed = changed or side.view.cursor != before
    return changed


def pair_active(visitor: Visitor) -> bool:
    return any(side.active for side in visitor.pair.values())


def selection_metric(view: RunView) -> str:
    return next(iter(view.test_metrics), "") or next(iter(view.val_metrics), "")


def pair_figure(visitor: Visitor) -> go.Figure:
    """Both runs' validation curves on one axis (the task's first metric), by epoch."""
    sides = list(visitor.pair.values())
    metric = next((selection_metric(s.view) for s in sides if selection_metric(s.view)), "")
    if not metric:
        return plots.empty(messages.PAIR_PLOT)
    fig = go.Figure()
    for side in sides:
        values = side.view.val_metrics.get(metric, [])
        fig.add_trace(go.Scatter(x=side.view.val_epochs[:len(values)], y=values, mode="lines+markers",
                                 name=ROLES.get(side.role, side.role)))
    fig.update_layout(title=messages.PAIR_PLOT, xaxis_title="epoch", yaxis_title=f"validation {metric}", height=340,
                      margin=plots.MARGIN, uirevision="pair")
    return fig


def pair_rows(visitor: Visitor) -> list[list[Any]]:
    """One row per run of the pair (validation best, test, OTDD before -> after), then the baselines."""
    rows = []
    for side in visitor.pair.values():
        view, metric = side.view, selection_metric(side.view)
        align = view.stage_metrics.get("align", {})
        otdd = (f"{align['otdd_before']:.4g} → {align['otdd_after']:.4g}"
                if "otdd_before" in align and "otdd_after" in align else "—")
        best_val = _best(view.val_metrics.get(metric, []), metric)
        rows.append([ROLES.get(side.role, side.role), metric, _fmt(best_val), _fmt(view.test_metrics.get(metric)),
                     otdd, view.outcome or view.stage or "waiting"])
    aligned = visitor.pair.get("aligned")
    if aligned is not None:
        metric = selection_metric(aligned.view)
        for result in aligned.view.stage_metrics.get("evaluate", {}).get("baselines", {}).get("results", []):
            rows.append([f"baseline: {result.get('model')}", metric, _fmt(result.get("validation", {}).get(metric)),
                         _fmt(result.get("test", {}).get(metric)), "—", "finished"])
    return rows


def _best(values: list[float], metric: str):
    if not values:
        return None
    return min(values) if metric in LOWER_IS_BETTER else max(values)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "—"


# -- the checkpoint: predict, then reveal ---------------------------------------------------------------

def reveal(visitor: Visitor, prediction: str | None) -> str:
    """The answer to "will alignment help?" written from the pair's numbers (or says what is missing)."""
    aligned, plain = visitor.pair.get("aligned"), visitor.pair.get("no-align")
    if aligned is None or plain is None:
        return messages.REVEAL_NEEDS_PAIR
    if not (aligned.view.test_metrics and plain.view.test_metrics):
        return messages.REVEAL_WAIT
    metric = selection_metric(aligned.view)
    a, b = aligned.view.test_metrics.get(metric), plain.view.test_metrics.get(metric)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return messages.REVEAL_WAIT
    lower = metric in LOWER_IS_BETTER
    gain = (b - a) if lower else (a - b)
    n = aligned.view.stage_metrics.get("prepare", {}).get("dataset", {}).get("splits", {}).get("test")
    noise = _noise(a, b, n) if not lower else None
    if noise is not None and abs(gain) <= 2 * noise:
        finding = messages.REVEAL_NO_CLEAR.format(noise=noise, n=n)
    elif gain > 0:
        finding = messages.REVEAL_HELPED
    else:
        finding = messages.REVEAL_HURT
    align = aligned.view.stage_metrics.get("align", {})
    lines = [messages.REVEAL_NUMBERS.format(metric=metric, a=a, b=b, gain=gain), finding]
    if "otdd_before" in align and "otdd_after" in align:
        lines.append(messages.REVEAL_OTDD.format(before=align["otdd_before"], after=align["otdd_after"]))
    verdict = aligned.view.stage_metrics.get("evaluate", {}).get("baselines", {}).get("verdict", {})
    if verdict.get("text"):
        lines.append(messages.REVEAL_BASELINE.format(text=verdict["text"]))
    if prediction:
        lines.insert(0, messages.REVEAL_YOU_SAID.format(prediction=prediction))
    return "\n\n".join(lines)


def _noise(a: float, b: float, n) -> float | None:
    """Standard error of the difference of two accuracy-like scores on `n` test samples (None if unknown)."""
    if not isinstance(n, int) or n <= 0 or not (0 <= a <= 1 and 0 <= b <= 1):
        return None
    return math.sqrt((a * (1 - a) + b * (1 - b)) / n) or 1.0 / n


def pair_outcomes(visitor: Visitor) -> dict[str, str]:
    return {role: side.view.outcome for role, side in visitor.pair.items() if side.view.outcome in TERMINAL}
