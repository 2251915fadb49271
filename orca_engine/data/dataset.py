"""The `Dataset` record every stage consumes, and the seeded train/validation/test splits.

Splits are drawn once per seed: the validation split is the only one model selection may look at,
the test split is scored once at the end. Classification splits are stratified so every class
appears in every split; other tasks are split uniformly at random.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

SPLITS = ("train", "val", "test")
MIN_TRAIN_PER_CLASS = 2  # class-conditional alignment (OTDD) needs two samples of a class to see its spread
_LISTED = 10  # classes named in a message; a thousand would bury the advice


@dataclass
class Dataset:
    """Encoded arrays ready for the model, plus what is needed to explain and repeat the encoding.

    x_* are float32: (N, F) tabular, (N, C, L) sequence, (N, C, H, W) image.
    y_* are int64 (N,) for classification, float32 (N,) / (N, T) regression, float32 0/1 (N, K)
    multi-label, float32 (N, C_out, *grid) dense.
    """
    name: str
    modality: str  # "tabular" | "sequence" | "image"
    task: str  # "classification" | "regression" | "multilabel" | "dense"
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    num_outputs: int
    class_names: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    preview_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of split "train", "val" or "test"."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of: {', '.join(SPLITS)}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def preview(self, n: int = 8) -> dict[str, Any]:
        """A few training samples as the user gave them, for the UI to draw.

        Returns {"kind": "table", "rows": [dict, ...]} for tabular data, {"kind": "signal",
        "x": (n, C, L)} for sequences, {"kind": "image", "x": (n, C, H, W)} for images, each with
        "targets": the n targets as class names (classification) or numbers.
        """
        n = max(0, min(n, len(self.x_train)))
        targets = self._readable_targets(self.y_train[:n])
        if self.modality == "tabular":
            return {"kind": "table", "rows": self.preview_rows[:n], "targets": targets}
        norm = self.spec.get("input_scaling") or {}
        x = self.x_train[:n]
        if norm:
            stat_shape = (1, -1) + (1,) * (x.ndim - 2)  # per channel: (1, C, 1[, 1])
            x = x * np.asarray(norm["std"], np.float32).reshape(stat_shape) + \
                np.asarray(norm["mean"], np.float32).reshape(stat_shape)
        return {"kind": "image" if self.modality == "image" else "signal", "x": x, "targets": targets}

    def _readable_targets(self, y: np.ndarray) -> list:
        if self.task == "classification":
            return [self.class_names[int(i)] for i in y]
        return y.tolist()


@dataclass(frozen=True)
class Splits:
    """Sorted sample indices of each split into the full (pre-split) arrays."""
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def holdout_count(n: int, fraction: float) -> int:
    """Samples held out of a group of n: at least one, so small classes still reach every split."""
    return max(1, int(round(n * fraction)))


def class_split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(train, val, test) counts one class of n samples gets; the same rule `random_splits` applies."""
    n_test = holdout_count(n, test_fraction)
    n_val = holdout_count(n - n_test, val_fraction / (1.0 - test_fraction))
    return n - n_test - n_val, n_val, n_test


def min_samples_per_group(val_fraction: float, test_fraction: float, min_train: int = 1) -> int:
    """Fewest samples a group (a class, or the whole set) needs for one in val and test and
    `min_train` in train."""
    if val_fraction + test_fraction >= 0.95:  # RunConfig refuses this too; guard direct callers
        raise ConfigError(f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} leaves "
                          f"nothing to train on; keep their sum below 0.8")
    n = 3
    while class_split_counts(n, val_fraction, test_fraction)[0] < min_train:
        n += 1
    return n


def random_splits(n: int, val_fraction: float, test_fraction: float, seed: int,
                  strata: np.ndarray | None = None, class_names: list[str] | None = None) -> Splits:
    """Seeded train/val/test indices over n samples; stratified by `strata` (class ids) when given.

    Raises DataError when a class (or the whole set) is too small to appear in every split.
    """
    _check_group_sizes(n, val_fraction, test_fraction, strata, class_names)
    rng = np.random.default_rng(seed)
    everything = np.arange(n)
    rest, test = _hold_out(everything, test_fraction, strata, rng)
    train, val = _hold_out(rest, val_fraction / (1.0 - test_fraction), strata, rng)
    return Splits(train, val, test)


def complete_splits(given: dict[str, np.ndarray], val_fraction: float, test_fraction: float, seed: int,
                    strata: np.ndarray | None = None) -> tuple[Splits, list[str]]:
    """Ready-made splits from a file, with any missing val/test split carved out of train.

    `given` maps "train" (required), "val", "test" to indices. Returns the splits and notes.
    """
    rng = np.random.default_rng(seed)
    train, notes = given["train"], []
    parts = {}
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        if name in given:
            parts[name] = given[name]
            continue
        train, parts[name] = _hold_out(train, fraction, strata, rng)
        notes.append(f"no {name} split in the file: held out {len(parts[name])} training samples "
                     f"({fraction:.0%} of the training split) as {name}")
    return Splits(np.sort(train), np.sort(parts["val"]), np.sort(parts["test"])), notes


def subsample_train(splits: Splits, fraction: float, seed: int, strata: np.ndarray | None = None) -> Splits:
    """Keep `fraction` of the training split (at least one per class); val and test are untouched."""
    if fraction >= 1.0:
        return splits
    rng = np.random.default_rng([seed, 1])  # its own stream: the split itself must not move
    _, kept = _hold_out(splits.train, fraction, strata, rng)
    return Splits(kept, splits.val, splits.test)


def _hold_out(indices: np.ndarray, fraction: float, strata: np.ndarray | None,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split `indices` into (kept, held) with `fraction` held out, per stratum when given."""
    groups = [indices] if strata is None else [indices[strata[indices] == c] for c in np.unique(strata[indices])]
    kept, held = [], []
    for group in groups:
        shuffled = rng.permutation(group)
        k = min(holdout_count(len(shuffled), fraction), len(shuffled))
        held.append(shuffled[:k])
        kept.append(shuffled[k:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def _check_group_sizes(n: int, val_fraction: float, test_fraction: float,
                       strata: np.ndarray | None, class_names: list[str] | None) -> None:
    need = min_samples_per_group(val_fraction, test_fraction)
    if n < need:
        raise DataError(f"only {n} samples; a train/validation/test split needs at least {need}: add samples")
    if strata is None:
        return
    need = min_samples_per_group(val_fraction, test_fraction, MIN_TRAIN_PER_CLASS)
    counts = np.bincount(strata)
    small = [(i, c) for i, c in enumerate(counts) if 0 < c < need]
    if small:
        names = class_names or [str(i) for i in range(len(counts))]
        listed = ", ".join(f"'{names[i]}' has {c}" for i, c in small[:_LISTED])
        more = f" (and {len(small) - _LISTED} more of the {len(counts)} classes)" if len(small) > _LISTED else ""
        raise DataError(f"too few samples in some classes for a stratified train/validation/test split: {listed}"
                        f"{more}; each class needs at least {need} ({MIN_TRAIN_PER_CLASS}+ to train on, the rest "
                        f"for validation and test). Add samples, merge rare classes (e.g. into 'other') or remove "
                        f"them, or lower data.val_fraction / data.test_fraction")
