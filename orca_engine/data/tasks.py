"""What the targets ask for: task inference, target checks and the target encoding.

`auto` rules, in order (each decision is written to the report so a user can override it):
  * y with the input's spatial grid            -> dense
  * 2-D y of 0/1 with more than one column    -> multilabel
  * text or booleans                          -> classification
  * whole numbers with few distinct values    -> classification (<= MAX_CLASSES and < N / 5, or binary)
  * any other numbers                          -> regression (scalar (N,) or vector (N, T))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError

TASKS = ("classification", "regression", "multilabel", "dense")
MAX_CLASSES = 50
_OVERRIDE = "set data.task to override"


@dataclass
class Targets:
    """Encoded targets of every sample, before splitting."""
    y: np.ndarray
    task: str
    output_shape: tuple[int, ...]
    num_outputs: int
    class_names: list[str] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)  # how a dense y file maps to (N, C_out, *grid)
    notes: list[str] = field(default_factory=list)

    @property
    def strata(self) -> np.ndarray | None:
        """Class ids to stratify splits on; None where stratifying makes no sense."""
        return self.y if self.task == "classification" else None


def encode_targets(y: np.ndarray, task: str, grid: tuple[int, ...] | None = None,
                   allowed: tuple[str, ...] = TASKS) -> Targets:
    """Infer (task == "auto") or check the task, then encode y by its conventions.

    y: (N, ...) targets as read from the file; grid: the input's spatial shape ((L,) or (H, W)),
    None for tables. `allowed` narrows the tasks a source can express (a CSV has one label column).
    """
    y = _as_plain_array(y)
    if task == "auto":
        task, why = infer_task(y, grid)
        if task not in allowed:
            raise DataError(f"the targets look like a {task} task ({why}), which this kind of file cannot hold; "
                            f"set data.task to one of: {', '.join(allowed)}")
        note = f"task inferred as {task}: {why}; {_OVERRIDE}"
    elif task not in allowed:
        raise DataError(f"data.task = {task!r} is not possible for this kind of file; choose one of: "
                        f"{', '.join(allowed)}")
    else:
        note = f"task {task} as configured"
    targets = _ENCODERS[task](y, grid)
    targets.notes.insert(0, note)
    return targets


def infer_task(y: np.ndarray, grid: tuple[int, ...] | None) -> tuple[str, str]:
    """(task, reason) for targets y (N, ...); see the module docstring for the rules."""
    if grid is not None and _dense_layout(y.shape[1:], grid) is not None:
        return "dense", f"targets {_shape(y.shape[1:])} cover the input grid {_shape(grid)}"
    if y.ndim == 2 and y.shape[1] > 1 and _is_binary(y):
        return "multilabel", f"targets are a 0/1 matrix with {y.shape[1]} columns"
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim > 2:
        raise DataError(f"targets of shape {_shape(y.shape[1:])} per sample fit no task: use (N,) labels, (N, T) "
                        f"values, a 0/1 (N, K) matrix, or a grid the size of the input for dense prediction")
    if y.ndim == 2:
        return "regression", f"targets are numeric vectors of length {y.shape[1]}"
    if y.dtype.kind in "OUSb":
        return "classification", "labels are text or true/false"
    distinct = len(np.unique(y))
    if _is_whole(y) and distinct <= MAX_CLASSES and (distinct <= 2 or distinct < len(y) / 5):
        return "classification", f"labels are {distinct} distinct whole numbers"
    return "regression", (f"labels are numbers with {distinct} distinct values" if _is_whole(y)
                          else "labels are fractional numbers")


def _classification(y: np.ndarray, grid) -> Targets:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"classification needs one label per sample, got targets of shape {_shape(y.shape[1:])}; "
                        f"for several 0/1 labels per sample use data.task = multilabel")
    values, ids = np.unique(y, return_inverse=True)
    names = [_label_name(v) for v in values]
    if len(values) < 2:
        huge = y.dtype.kind == "f" and abs(float(values[0])) >= 2.0 ** 53
        hint = (" (labels this large lose precision as numbers, so different ids can merge: write them as text, "
                "e.g. 'id_' + the number)" if huge else "")
        raise DataError(f"only one class ({names[0]!r}) in the labels{hint}; classification needs at least two. "
                        f"Check the label column, or use data.task = regression")
    return Targets(ids.astype(np.int64), "classification", (), len(values), names)


def _regression(y: np.ndarray, grid) -> Targets:
    _require_numbers(y, "regression")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim > 2:
        raise DataError(f"regression targets must be (N,) or (N, T), got {_shape(y.shape)}; "
                        f"for a target grid the size of the input use data.task = dense")
    y = y.astype(np.float32)
    return Targets(y, "regression", tuple(y.shape[1:]), int(np.prod(y.shape[1:], dtype=int)))


def _multilabel(y: np.ndarray, grid) -> Targets:
    if y.ndim != 2 or y.dtype.kind not in "biuf" or not _is_binary(y):
        raise DataError(f"multi-label targets must be a 0/1 matrix (N, K), got {_shape(y.shape)} of "
                        f"{y.dtype}; one column per label, 1 where it applies")
    names = [f"label_{i}" for i in range(y.shape[1])]
    return Targets(y.astype(np.float32), "multilabel", (y.shape[1],), y.shape[1], names)


def _dense(y: np.ndarray, grid) -> Targets:
    _require_numbers(y, "dense prediction")
    layout = None if grid is None else _dense_layout(y.shape[1:], grid)
    if layout is None:
        raise DataError(f"dense targets must cover the input grid {_shape(grid or ())}: give (N, *grid), "
                        f"(N, C_out, *grid) or (N, *grid, C_out); got {_shape(y.shape)}")
    y = to_dense_grid(y, layout)
    return Targets(y, "dense", tuple(y.shape[1:]), y.shape[1], layout=layout)


_ENCODERS = {"classification": _classification, "regression": _regression,
             "multilabel": _multilabel, "dense": _dense}


def to_dense_grid(y: np.ndarray, layout: dict[str, Any]) -> np.ndarray:
    """Dense targets as float32 (N, C_out, *grid), whatever layout the file used."""
    if layout["add_channel"]:
        y = y[:, None]
    elif layout["channels_last"]:
        y = np.moveaxis(y, -1, 1)
    return np.ascontiguousarray(y, dtype=np.float32)


def _dense_layout(sample_shape: tuple[int, ...], grid: tuple[int, ...]) -> dict[str, Any] | None:
    """How per-sample targets of `sample_shape` sit on `grid`, or None if they don't."""
    g = tuple(grid)
    if tuple(sample_shape) == g:
        return {"add_channel": True, "channels_last": False}
    if len(sample_shape) == len(g) + 1:
        if tuple(sample_shape[1:]) == g:
            return {"add_channel": False, "channels_last": False}
        if tuple(sample_shape[:-1]) == g:
            return {"add_channel": False, "channels_last": True}
    return None


def _as_plain_array(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind == "S":  # bytes labels from a file: compare and show them as text
        y = y.astype(str)
    if y.dtype.kind == "c":
        raise DataError("targets are complex numbers; split them into real and imaginary parts (two columns)")
    if y.ndim == 0 or len(y) == 0:
        raise DataError("no targets found: y is empty; give one target per sample")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise DataError(f"targets contain {bad} NaN or infinite values; remove those samples or fill in the targets")
    return y


def _require_numbers(y: np.ndarray, what: str) -> None:
    if y.dtype.kind not in "biuf":
        raise DataError(f"{what} needs numeric targets, got {y.dtype} values such as {y.ravel()[0].item()!r}; "
                        f"use data.task = classification for text labels")


def _is_binary(y: np.ndarray) -> bool:
    return y.dtype.kind in "biuf" and bool(np.isin(y, (0, 1)).all())


def _is_whole(y: np.ndarray) -> bool:
    return y.dtype.kind in "biu" or (y.dtype.kind == "f" and bool(np.all(y == np.round(y))))


def _label_name(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(s) for s in shape))


def encode_targets_like(y: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Targets of a new labelled file, encoded with the training dataset's spec (for evaluation)."""
    y, task = _as_plain_array(y), spec["task"]
    if task == "classification":
        return _class_ids(y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y, spec["class_names"])
    _require_numbers(y, task)
    if task == "dense":
        y = to_dense_grid(y, spec["target_layout"])
    elif task == "regression" and y.ndim == 2 and y.shape[1] == 1 and not spec["output_shape"]:
        y = y[:, 0]
    if tuple(y.shape[1:]) != tuple(spec["output_shape"]):
        raise DataError(f"targets have shape {_shape(y.shape[1:])} per sample but the model predicts "
                        f"{_shape(spec['output_shape'])}; give targets shaped like the training ones")
    return y.astype(np.float32)


def _class_ids(y: np.ndarray, class_names: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(class_names)}
    names = [_label_name(v) for v in y.tolist()]
    unseen = sorted(set(names) - set(index))
    if unseen:
        raise DataError(f"labels {', '.join(map(repr, unseen[:5]))} were not classes in training; the model knows: "
                        f"{', '.join(class_names)}")
    return np.array([index[n] for n in names], dtype=np.int64)
