"""What one visitor's page knows: who they are, which run they watch, and that run folded from its events.

`RunView` is a pure fold over event records (`orca_engine.events`): the poll handler feeds it the
records it has not seen yet and redraws only the figures whose revision moved. Nothing here
imports gradio, so it is unit-testable as plain Python.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .replay import Replay

TERMINAL = ("finished", "failed", "cancelled")


@dataclass
class RunView:
    """Accumulated arrays of one run, rebuilt from its event records."""
    run_id: str = ""
    run_dir: str = ""
    config: dict = field(default_factory=dict)
    stage: str = ""
    align_steps: list[int] = field(default_factory=list)
    step_clock: list[tuple[float, int]] = field(default_factory=list)  # (time, step) of the stage's latest steps
    align_losses: list[float] = field(default_factory=list)
    refine_steps: list[int] = field(default_factory=list)
    refine_losses: list[float] = field(default_factory=list)
    val_epochs: list[float] = field(default_factory=list)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    projection: dict | None = None
    frames: list = field(default_factory=list)  # every projection frame so far, compact (see `_on_projection`)
    scrub: int | None = None  # the frame the visitor stepped back to with the scrubber (None: the newest)
    class_distances: dict | None = None
    distance_range: tuple[float, float] | None = None  # the heatmap's colour scale so far (it only widens)
    projection_ranges: tuple | None = None  # axis ranges drawn so far (see plots.frame_axis_ranges)
    projection_ranges_method: str = ""
    stage_metrics: dict[str, dict] = field(default_factory=dict)
    final_metrics: dict = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    trials: list[dict] = field(default_factory=list)  # the tune stage's trials, as recorded
    notes: list[str] = field(default_factory=list)
    outcome: str = ""  # "" while going, else one of TERMINAL
    error: str = ""
    cursor: int = 0  # index of the next event record to read
    revisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("align", "projection", "distances", "refine", "trials", "test", "outcome"), 0))

    def apply_all(self, records: list[dict]) -> None:
        for record in records:
            self.apply(record)

    def apply(self, record: dict) -> None:
        """Fold one event record in; records older than the cursor are ignored (idempotent)."""
        index = record.get("index")
        if index is not None:
            if index < self.cursor:
                return
            self.cursor = index + 1
        else:
            self.cursor += 1
        handler = getattr(self, f"_on_{record.get('type', '')}", None)
        if handler is not None:
            handler(record)

    @property
    def test_metrics(self) -> dict:
        return self.stage_metrics.get("evaluate", {}).get("test") or self.final_metrics.get("test") or {}

    def _bump(self, *names: str) -> None:
        for name in names:
            self.revisions[name] += 1

    def _on_run_started(self, r: dict) -> None:
        self.run_id, self.run_dir, self.config = r.get("run_id", ""), r.get("run_dir", ""), r.get("config", {})

    def seconds_per_step(self, window: int = 20) -> float | None:
        """The current stage's measured rate over its last `window` step records (None before two)."""
        if len(self.step_clock) < 2:
            return None
        (t0, s0), (t1, s1) = self.step_clock[-window:][0], self.step_clock[-1]
        return (t1 - t0) / (s1 - s0) if s1 > s0 and t1 > t0 else None

    def _on_stage_started(self, r: dict) -> None:
        self.stage = r["stage"]
        self.step_clock = []
        if r["stage"] == "align":  # a repeated stage starts its curve afresh
            self.align_steps, self.align_losses = [], []
            self._bump("align")
        elif r["stage"] == "refine":
            self.refine_steps, self.refine_losses, self.val_epochs, self.val_metrics = [], [], [], {}
            self._bump("refine")

    def _on_step(self, r: dict) -> None:
        if isinstance(r.get("time"), (int, float)):
            self.step_clock = self.step_clock[-40:] + [(float(r["time"]), int(r["step"]))]
        if r["stage"] == "align":
            self.align_steps.append(int(r["step"]))
            self.align_losses.append(float(r["loss"]))
            self._bump("align")
        elif r["stage"] == "refine":
            self.refine_steps.append(int(r["step"]))
            self.refine_losses.append(float(r["loss"]))
            self._bump("refine")

    def _on_validation(self, r: dict) -> None:
        self.val_epochs.append(float(r["epoch"]))
        for name, value in r.get("metrics", {}).items():
            if isinstance(value, (int, float)):
                self.val_metrics.setdefault(name, []).append(float(value))
        self._bump("refine")

    def _on_trial(self, r: dict) -> None:
        self.trials.append(r)
        self._bump("trials")

    def _on_projection(self, r: dict) -> None:
        self.projection = r
        self.frames.append(compact_frame(r))
        self._bump("projection")

    def _on_class_distances(self, r: dict) -> None:
        self.class_distances = r
        self._bump("distances")

    def _on_warning(self, r: dict) -> None:
        if r.get("stage") == "prepare":  # the data report's notes, already shown in step 1
            self.notes.append(r.get("message", ""))
        else:
            self.warnings.append(f"{r.get('stage', '')}: {r.get('message', '')}")

    def _on_stage_finished(self, r: dict) -> None:
        self.stage_metrics[r["stage"]] = r.get("metrics", {})
        if r["stage"] == "evaluate":
            self._bump("test")

    def _on_artifact(self, r: dict) -> None:
        self.artifacts[r["name"]] = r["path"]
        self._bump("test")

    def _on_finished(self, r: dict) -> None:
        self.final_metrics = r.get("metrics", {})
        self.outcome = "finished"
        self._bump("test", "outcome")

    def _on_failed(self, r: dict) -> None:
        self.outcome, self.error = "failed", r.get("message", "")
        self._bump("outcome")

    def _on_cancelled(self, r: dict) -> None:
        self.outcome = "cancelled"
        self._bump("outcome")


def compact_frame(r: dict) -> dict:
    """A projection frame kept for the scrubber and the motion trail: float32 arrays, not lists."""
    return {"step": r.get("step"), "method": r.get("method", ""),
            "source_xy": np.asarray(r.get("source_xy", []), dtype=np.float32).reshape(-1, 2),
            "target_xy": np.asarray(r.get("target_xy", []), dtype=np.float32).reshape(-1, 2),
            "source_labels": list(r.get("source_labels", [])), "target_labels": list(r.get("target_labels", []))}


@dataclass
class Visitor:
    """Per-browser-session state (a gr.State value, mutated in place so concurrent events agree)."""
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    run_id: str = ""
    data_source: str = ""
    label_column: str = ""
    view: RunView = field(default_factory=RunView)
    drawn: dict[str, int] = field(default_factory=dict)  # figure name -> revision last sent to the page
    redrawn_at: dict[str, float] = field(default_factory=dict)  # figure name -> time.monotonic() it was last sent
    replay: Replay | None = None  # a recorded run being shown, fed to the view at watching speed
    lesson: str = ""  # the lesson being shown ("" for none)
    last_replay: Replay | None = None  # the replay shown last, kept after it ended (to share or export it)
    pair: dict = field(default_factory=dict)  # role -> lessons.Side: the align vs no-align pair followed
    last_state: str = ""
    past_runs: dict[str, str] = field(default_factory=dict)  # earlier run id -> run folder (for replay)
    projection_method: str = "pca"  # the view picked in step 3, for this run and the next ones
    source_name: str = ""  # the uploaded file's name as the visitor knows it ("" for an example)
    download_dir: str = ""  # the temp folder holding the visitor's latest export (replaced by the next)
    shown: dict[str, Any] = field(default_factory=dict)  # text output name -> value last sent to the page
    last_poll: float = 0.0  # time.time() of the latest poll (the watchdog restarts a poll that stopped)

    def remember_past(self, run_id: str, run_dir: str, keep: int = 20) -> None:
        """Keep `run_id` among the visitor's replayable runs (the `keep` most recent)."""
        self.past_runs.pop(run_id, None)
        self.past_runs[run_id] = run_dir
        for old in list(self.past_runs)[:-keep]:
            del self.past_runs[old]

    def watch(self, run_id: str) -> None:
        """Follow a (new) run from its first event; everything the page shows of a run is redrawn."""
        self.run_id, self.view, self.replay = run_id, RunView(), None
        self.lesson, self.last_replay = "", None
        self.redraw_all()

    def redraw_all(self) -> None:
        """Forget what the page was sent: the next poll sends every output afresh."""
        self.drawn, self.shown, self.redrawn_at, self.last_state = {}, {}, {}, ""

    def changed(self, name: str, value: Any) -> Any:
        """`value` when it differs from what output `name` last got, else None (nothing to send)."""
        if name in self.shown and self.shown[name] == value:
            return None
        self.shown[name] = value
        return value

    def replay_events(self, name: str, records: list[dict], note: str = "") -> Replay:
        """Show a recorded run: the poll feeds `records` to a fresh view at watching speed."""
        self.watch("")
        self.view.run_id, self.replay = name, Replay(list(records), note=note)
        self.last_replay = self.replay
        return self.replay

    def needs_redraw(self, name: str, revision_key: str | None = None) -> bool:
        """True once per change of the view's revision `revision_key` (default: same as `name`)."""
        revision = self.view.revisions[revision_key or name]
        if self.drawn.get(name) == revision:
            return False
        self.drawn[name] = revision
        return True

    def remembered(self) -> dict[str, Any]:
        """What the browser keeps (gr.BrowserState) so a reloaded page re-attaches."""
        return {"owner": self.owner, "run_id": self.run_id, "projection": self.projection_method}


def new_visitor() -> Visitor:
    """A fresh Visitor (a new owner id)."""
    return Visitor()


class FreshVisitor:
    """gr.State's initial value: each browser session's copy of it is a new Visitor.

    Gradio deep-copies a State's initial value the first time a session's event touches it, so
    this object's `__deepcopy__` makes one Visitor per session, created by whichever event comes
    first. (A callable initial value instead runs as a page-load event that *replaces* the state:
    an event fired earlier, e.g. a click or the reload restore, lost what it had set.)
    """

    def __deepcopy__(self, memo: dict) -> Visitor:
        return new_visitor()
