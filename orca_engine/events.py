"""Typed, frozen progress records: what a run tells whoever is watching.

Stages yield these; the session numbers them, stamps the time, keeps them in memory and appends
them to the run's `events.jsonl` (one JSON object per line with a `type` field), so a finished
run can be replayed and a reloaded page can re-attach. The engine never learns who is watching.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: events are frozen and their lists are never mutated, and asdict's deep
        # copy of a projection frame's thousands of coordinates cost the training thread real time.
        return {"type": self.type, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}


@dataclass(frozen=True)
class StageEvent(Event):
    """An event of one stage ("prepare" | "align" | "refine" | "evaluate" | "tune"): it comes first."""
    stage: str


@dataclass(frozen=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    run_id: str
    run_dir: str
    config: dict


@dataclass(frozen=True)
class StepEvent(StageEvent):
    """An event of one stage at one of its steps (optimizer steps; alignment steps for projections)."""
    step: int


@dataclass(frozen=True)
class StageStarted(StageEvent):
    type: ClassVar[str] = "stage_started"
    total_steps: int = 0


@dataclass(frozen=True)
class StepLogged(StepEvent):
    """One optimisation step. Alignment steps carry the objective value as `loss`."""
    type: ClassVar[str] = "step"
    total: int
    loss: float
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationLogged(StageEvent):
    """Validation metrics (and the task loss, as "loss") at one refinement step; `epoch` is the
    step in passes over the training data (fractional); `best` marks the kept checkpoint."""
    type: ClassVar[str] = "validation"
    epoch: float
    metrics: dict
    best: bool = False
    step: int = 0


@dataclass(frozen=True)
class TrialFinished(StageEvent):
    """One hyperparameter trial of the tune stage, scored on the validation split."""
    type: ClassVar[str] = "trial"
    trial: int
    total: int
    params: dict
    value: float  # the tuning objective (validation loss by default); nan for a failed trial
    metrics: dict  # validation metrics of the trial's kept checkpoint
    seconds: float
    best: bool = False


@dataclass(frozen=True)
class ProjectionFrame(StepEvent):
    """2-D coordinates of a fixed sample of source and target features at one alignment step.

    Indices of the sample are fixed for the whole run, so consecutive frames animate.
    """
    type: ClassVar[str] = "projection"
    method: str  # "pca" | "umap"
    source_xy: list  # (n_s, 2)
    target_xy: list  # (n_t, 2)
    source_labels: list  # (n_s,)
    target_labels: list  # (n_t,)


@dataclass(frozen=True)
class ClassDistances(StepEvent):
    """Distances between target classes (rows) and source classes (columns) at one step."""
    type: ClassVar[str] = "class_distances"
    matrix: list  # (n_target_classes, n_source_classes)
    target_classes: list
    source_classes: list


@dataclass(frozen=True)
class WarningRaised(StageEvent):
    type: ClassVar[str] = "warning"
    message: str


@dataclass(frozen=True)
class StageFinished(StageEvent):
    type: ClassVar[str] = "stage_finished"
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactReady(Event):
    type: ClassVar[str] = "artifact"
    name: str
    path: str


@dataclass(frozen=True)
class StateChanged(Event):
    """Pause / resume / queued position changes, as the session sees them."""
    type: ClassVar[str] = "state"
    state: str  # a RunState: "running" | "paused" | "idle" (orca_engine.contracts)
    detail: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    type: ClassVar[str] = "finished"
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunFailed(Event):
    type: ClassVar[str] = "failed"
    error: str  # the error class name, e.g. "DataError"
    message: str


@dataclass(frozen=True)
class RunCancelledEvent(Event):
    type: ClassVar[str] = "cancelled"
    stage: str = ""


@dataclass(frozen=True)
class Recorded:
    """An event as a run recorded it: its index in the run's sequence and when (Unix seconds).
    Typed until `to_dict`, which is what events.jsonl and the UI's poll receive."""
    index: int
    time: float
    event: Event

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "time": self.time, **self.event.to_dict()}


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (RunStarted, StageStarted, StepLogged, ValidationLogged, TrialFinished, ProjectionFrame,
                ClassDistances, WarningRaised, StageFinished, ArtifactReady, StateChanged,
                RunFinished, RunFailed, RunCancelledEvent)
}


def event_from_dict(record: dict[str, Any]) -> Event:
    """Rebuild a typed event from its JSON record (extra keys such as `index`/`time` are dropped)."""
    cls = EVENT_TYPES[record["type"]]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in record.items() if k in names})


def to_json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), default=_jsonable) + "\n"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} in an event")
