"""Typed records passed between the engine's parts (torch-free: tensors appear as annotations only).

    RunState        the states a run moves through, defined once (session, app and CLI share it)
    DataSpec        what repeats a dataset's encoding on a new file (JSON-able, saved in model.json)
    BuildInfo       what rebuilds a trained model and reads its outputs (model.json)
    SourceFeatures  the source proxy's features, labels and provenance, as the align stage uses them
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    import torch


class RunState(StrEnum):
    """A run's state. A StrEnum: it compares equal to its name and serialises as it."""
    QUEUED = "queued"        # waiting for a compute slot (FIFO)
    RUNNING = "running"
    PAUSED = "paused"        # running, held at its next step
    IDLE = "idle"            # its stages are done and the model stays in memory (e.g. after align)
    FINISHED = "finished"    # evaluated: test metrics and model written
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """Queued, running or paused: a worker thread still owns the run."""
        return self in ACTIVE_STATES

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


ACTIVE_STATES = frozenset({RunState.QUEUED, RunState.RUNNING, RunState.PAUSED})
TERMINAL_STATES = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CANCELLED})


class DataSpec(TypedDict, total=False):
    """How a dataset was read and encoded, so `encode_inputs` can repeat it on a new file.

    Every spec has `format`, `source_kind` ("table" | "arrays" | "images" | "example"), `modality`,
    `task`, `input_shape` and `output_shape`; the other keys depend on the source kind.
    """
    format: int
    source_kind: str
    modality: str
    task: str
    input_shape: list[int]
    output_shape: list[int]
    label_column: str                # tables
    columns: list[dict[str, Any]]    # tables: one encoding record per column
    layout: dict[str, Any]           # arrays and images: how a file's axes map to (C, L) or (C, H, W)
    input_scaling: dict[str, Any]    # arrays and images: per-channel mean and std of the training split
    image: dict[str, Any]            # images: mode, width, height
    target_layout: dict[str, Any]
    target_mean: Any                 # regression and dense: training-split target mean (float or list)
    target_std: Any
    class_names: list[str]


@dataclass(frozen=True)
class BuildInfo:
    """What rebuilds a run's model (shapes, task) and turns its raw outputs into the task's units.

    Written as model.json next to the weights. A refine checkpoint carries `checkpoint`
    ({"complete": False, "step": s}); the finished model has none.
    """
    modality: str
    task: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    num_outputs: int
    class_names: tuple[str, ...] = ()
    target_mean: Any = 0.0  # float, or a list per target / output channel
    target_std: Any = 1.0
    data_spec: DataSpec = dataclasses.field(default_factory=dict)  # type: ignore[assignment]
    checkpoint: dict[str, Any] | None = None
    test_time_shift: float = 0.0  # test-time augmentation: largest shift as a share of each axis (0 = off)
    members: int = 1  # models averaged (refine.members): the weights hold members.0. ... members.{k-1}.

    @property
    def complete(self) -> bool:
        """False for a refine checkpoint: the run stopped before it finished."""
        return not self.checkpoint

    def as_checkpoint(self, step: int) -> BuildInfo:
        return dataclasses.replace(self, checkpoint={"complete": False, "step": step})

    def to_dict(self) -> dict[str, Any]:
        out = {"modality": self.modality, "task": self.task, "input_shape": list(self.input_shape),
               "output_shape": list(self.output_shape), "num_outputs": self.num_outputs,
               "class_names": list(self.class_names), "target_mean": self.target_mean,
               "target_std": self.target_std, "data_spec": self.data_spec}
        if self.test_time_shift:
            out["test_time_shift"] = self.test_time_shift
        if self.members > 1:
            out["members"] = self.members
        return {**out, "checkpoint": self.checkpoint} if self.checkpoint else out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BuildInfo:
        """From model.json; KeyError / TypeError / ValueError name what is missing or malformed."""
        return cls(modality=str(d["modality"]), task=str(d["task"]),
                   input_shape=tuple(int(n) for n in d["input_shape"]),
                   output_shape=tuple(int(n) for n in d["output_shape"]), num_outputs=int(d["num_outputs"]),
                   class_names=tuple(d.get("class_names") or ()), target_mean=d.get("target_mean", 0.0),
                   target_std=d.get("target_std", 1.0), data_spec=d.get("data_spec") or {},
                   checkpoint=d.get("checkpoint") or None, test_time_shift=float(d.get("test_time_shift", 0.0)),
                   members=int(d.get("members", 1)))


@dataclass(frozen=True)
class SourceFeatures:
    """The source proxy as the alignment objective sees it: mean-pooled body embeddings of labelled
    data of the body's own modality (ORCA.md), on the run's device."""
    features: torch.Tensor  # (n_s, embed_dim) float32
    labels: torch.Tensor    # (n_s,) int64
    info: dict[str, Any]    # proxy name, n, class names ("classes"), whether it came from the cache, notes

    @property
    def class_names(self) -> list[str]:
        return list(self.info.get("classes", []))
