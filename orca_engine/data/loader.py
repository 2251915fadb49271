"""`load_dataset`: any source (example, CSV/TSV, .npz, zip of images) -> a split, encoded `Dataset`.

Two pipelines share the same order of work, so nothing fitted ever sees validation or test rows:
read -> check size -> targets (task inferred or checked) -> seeded splits -> fit the input encoding
on the training split -> encode everything -> spec (to repeat the encoding) + report (to explain it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..config import DataConfig
from ..errors import DataError
from ..formats import format_of, suffixes
from . import arrays, images, tabular
from .dataset import Dataset, Splits, complete_splits, random_splits, subsample_train
from .examples import EXAMPLES, ExampleSpec
from .tasks import Targets, encode_targets

SPEC_FORMAT = 1
PREVIEW_ROWS = 20  # raw training rows kept for the UI's table preview
EXAMPLE_DATA_SEED = 0  # synthetic examples are one fixed dataset; the run seed only moves splits


def load_dataset(cfg: DataConfig, seed: int) -> Dataset:
    """Load `cfg.source` (an example name or a file path), split it with `seed`, encode it."""
    source = cfg.source.strip()
    if source in EXAMPLES:
        return _example_dataset(EXAMPLES.get(source), cfg, seed)
    from .lazy import lazy_parts
    lazy = lazy_parts(source)  # a folder of .npy, a large uncompressed .npz, hf:NAME: read from disk per batch
    if lazy is not None:
        return _lazy_dataset(*lazy, cfg, seed)
    path = Path(source).expanduser()
    file_format = format_of(path)
    loader = _LOADERS.get(file_format.family) if file_format and file_format.training else None
    if loader is None:
        raise DataError(unknown_source_message(source))
    if not path.is_file():
        raise DataError(f"file not found: {path}; check the path (or pick an example: {', '.join(EXAMPLES)})")
    return loader(path, cfg, seed)


def unknown_source_message(source: str) -> str:
    return (f"{source!r} is neither an example nor a supported file; give a path ending in "
            f"{', '.join(suffixes(training=True))}, or an example name: {', '.join(EXAMPLES)}")


# -- sources ------------------------------------------------------------------------------------

def _load_table(path: Path, cfg: DataConfig, seed: int) -> Dataset:
    return _table_dataset(path.stem, tabular.read_table(path, cfg.max_samples), cfg.label_column, cfg, seed)


def _load_npz(path: Path, cfg: DataConfig, seed: int) -> Dataset:
    parts = arrays.pick_arrays(arrays.load_arrays(path), path.name)
    return _grid_dataset(path.stem, parts, cfg, seed, source_kind="arrays")


def _load_npy(path: Path, cfg: DataConfig, seed: int) -> Dataset:
    raise DataError(f"{path.name} holds one array (the inputs) but training also needs targets; save both "
                    f"in one file: np.savez('data.npz', x=x, y=y). (.npy files are accepted for predict)")


def _load_zip(path: Path, cfg: DataConfig, seed: int) -> Dataset:
    if cfg.task not in ("auto", "classification"):
        raise DataError(f"a zip of class folders is a classification dataset; set data.task to auto or "
                        f"classification (got {cfg.task!r})")
    pixels, labels, image_spec, notes = images.read_class_folders(path, cfg.max_samples)
    parts = {"all": (images.to_channels_first(pixels), labels)}
    return _grid_dataset(path.stem, parts, cfg, seed, source_kind="images", modality_hint="image",
                         extra_spec={"image": image_spec}, notes=notes)


# one loader per format family (orca_engine.formats names the suffixes of each)
_LOADERS: dict[str, Callable[[Path, DataConfig, int], Dataset]] = {
    "table": _load_table, "arrays": _load_npz, "array": _load_npy, "images": _load_zip}


def _example_dataset(example: ExampleSpec, cfg: DataConfig, seed: int) -> Dataset:
    data = example.build(EXAMPLE_DATA_SEED)
    if example.modality == "tabular":
        table = pd.DataFrame(data.x, columns=data.feature_names)
        labels = np.asarray(data.class_names)[data.y] if data.class_names else data.y
        table["target"] = labels
        return _table_dataset(example.name, table, "target", cfg, seed)
    y, label_names = data.y, data.class_names
    if data.class_names and example.task == "classification":
        y, label_names = np.asarray(data.class_names)[data.y], None  # names, not ids, reach the report
    return _grid_dataset(example.name, {"all": (data.x, y)}, cfg, seed, source_kind="arrays",
                         modality_hint=example.modality, label_names=label_names)


# -- pipelines ----------------------------------------------------------------------------------

def _table_dataset(name: str, table: pd.DataFrame, label_column: str, cfg: DataConfig, seed: int) -> Dataset:
    if cfg.modality not in ("auto", "tabular"):
        raise DataError(f"a table is read as tabular data, not {cfg.modality}; set data.modality to auto, or "
                        f"save signals/images as .npz arrays")
    features, labels, rows_dropped = tabular.split_label(table, label_column)
    _check_size(len(labels), cfg.max_samples, name)
    targets = encode_targets(labels, cfg.task, allowed=("classification", "regression"))
    splits, notes = _splits(targets, None, cfg, seed)
    columns = tabular.fit_columns(features.iloc[splits.train])
    x, filled = tabular.encode_columns(features, columns)
    rows = tabular.preview_rows(features.iloc[splits.train[:PREVIEW_ROWS]])
    spec = {"source_kind": "table", "label_column": label_column or str(table.columns[-1]), "columns": columns}
    dropped = {c["name"]: c["reason"] for c in columns if c["kind"] == "dropped"}
    report = {"missing": {"label_rows_dropped": rows_dropped, "values_filled": filled},
              "dropped_columns": dropped, "notes": _table_notes(rows_dropped, filled, dropped) + notes}
    return _assemble(name, "tabular", x, targets, splits, spec, report,
                     feature_names=tabular.feature_names(columns), rows=rows)


def _grid_dataset(name: str, parts: dict[str, tuple[np.ndarray, np.ndarray]], cfg: DataConfig, seed: int,
                  source_kind: str, modality_hint: str = "auto", extra_spec: dict | None = None,
                  notes: list[str] | None = None, label_names: list[str] | None = None) -> Dataset:
    x, y, origin = _concatenate(parts)
    _check_size(len(x), cfg.max_samples, name)
    layout, layout_note = arrays.choose_layout(x.shape[1:], cfg.modality if cfg.modality != "auto" else modality_hint)
    if cfg.modality == "auto" and modality_hint != "auto":
        layout_note = f"modality {layout['modality']}, as the source defines it"
    x = arrays.apply_layout(x, layout)
    grid = tuple(x.shape[2:]) if layout["modality"] != "tabular" else None
    targets = encode_targets(y, cfg.task, grid)
    if label_names and targets.task == "multilabel" and len(label_names) == targets.num_outputs:
        targets.class_names = list(label_names)
    splits, split_notes = _splits(targets, origin, cfg, seed)
    names = [f"x{j}" for j in range(x.shape[1])] if layout["modality"] == "tabular" else []
    rows = [dict(zip(names, map(float, r))) for r in x[splits.train[:PREVIEW_ROWS]]] if names else []
    scaling = arrays.fit_scaling(x[splits.train])
    x = arrays.apply_scaling(x, scaling)
    spec = {"source_kind": source_kind, "layout": layout, "input_scaling": scaling, **(extra_spec or {})}
    report = {"notes": [layout_note, *(notes or []), *split_notes,
                        "inputs standardised per channel with training-split mean and std"]}
    return _assemble(name, layout["modality"], x, targets, splits, spec, report, feature_names=names, rows=rows)


def _lazy_dataset(name: str, parts: dict, cfg: DataConfig, seed: int) -> Dataset:
    """`_grid_dataset` for inputs left on disk (`lazy.py`): same layout, targets, splits and spec;
    the scaling is fitted in one streaming pass and every split is an index array into the file."""
    from .lazy import LazyRows, Stacked
    for split, (x, y) in parts.items():
        arrays.check_lengths(x, y, "" if split == "all" else f"_{split}")
    source = parts["all"][0] if "all" in parts else Stacked([x for x, _ in parts.values()])
    y = parts["all"][1] if "all" in parts else np.concatenate([y for _, y in parts.values()])
    starts = np.cumsum([0] + [len(y_part) for _, y_part in parts.values()])
    origin = None if "all" in parts else {s: np.arange(starts[i], starts[i + 1]) for i, s in enumerate(parts)}
    if source.dtype.kind not in "biuf":
        raise DataError(f"{source.name} must hold numbers, got dtype {source.dtype}; convert it, e.g. "
                        f"x.astype(np.float32)")
    _check_size(len(y), cfg.max_samples, name)
    layout, layout_note = arrays.choose_layout(tuple(source.shape[1:]), cfg.modality)
    grid = tuple(LazyRows(source, [0], layout, None).shape[2:]) if layout["modality"] != "tabular" else None
    targets = encode_targets(y, cfg.task, grid)
    splits, split_notes = _splits(targets, origin, cfg, seed)
    raw = LazyRows(source, np.arange(len(y)), layout, None)
    names = [f"x{j}" for j in range(raw.shape[1])] if layout["modality"] == "tabular" else []
    rows = [dict(zip(names, map(float, r))) for r in raw[splits.train[:PREVIEW_ROWS]]] if names else []
    from .lazy import streamed_scaling
    scaling = streamed_scaling(source, splits.train, layout)
    x = LazyRows(source, np.arange(len(y)), layout, scaling)
    spec = {"source_kind": "arrays", "layout": layout, "input_scaling": scaling}
    report = {"notes": [layout_note, *split_notes, "inputs standardised per channel with training-split mean and std",
                        f"inputs read from disk batch by batch ({raw.nbytes / 2**20:.0f} MiB as float32), never "
                        f"loaded whole"], "lazy": True}
    return _assemble(name, layout["modality"], x, targets, splits, spec, report, feature_names=names, rows=rows)


def _concatenate(parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, dict | None]:
    """All samples in one array, plus each given split's indices into it (None when there are no splits)."""
    xs, ys, origin, start = [], [], {}, 0
    for split, (x, y) in parts.items():
        suffix = "" if split == "all" else f"_{split}"
        x, y = arrays.check_inputs(np.asarray(x), f"x{suffix}"), np.asarray(y)
        arrays.check_lengths(x, y, suffix)
        if xs and (x.shape[1:] != xs[0].shape[1:] or y.shape[1:] != ys[0].shape[1:]):
            raise DataError(f"x{suffix}/y{suffix} have samples of shape {x.shape[1:]}/{y.shape[1:]} but x_train/"
                            f"y_train have {xs[0].shape[1:]}/{ys[0].shape[1:]}; every split needs the same shapes")
        xs.append(x)
        ys.append(y)
        origin[split] = np.arange(start, start + len(x))
        start += len(x)
    if "all" in origin:
        return xs[0], ys[0], None
    return np.concatenate(xs), np.concatenate(ys), origin


def _check_size(n: int, max_samples: int, name: str) -> None:
    if n > max_samples:
        raise DataError(f"{name} has {n} samples, more than data.max_samples = {max_samples}; raise "
                        f"data.max_samples or use a subset of the data")


def _splits(targets: Targets, origin: dict | None, cfg: DataConfig, seed: int) -> tuple[Splits, list[str]]:
    """Seeded (stratified for classification) splits, or the file's own; then the train subsample."""
    if origin is None:
        splits = random_splits(len(targets.y), cfg.val_fraction, cfg.test_fraction, seed,
                               targets.strata, targets.class_names)
        notes = [f"seeded {'stratified ' if targets.strata is not None else ''}split (seed {seed})"]
    else:
        splits, notes = complete_splits(origin, cfg.val_fraction, cfg.test_fraction, seed, targets.strata)
        notes = ["ready-made splits from the file were kept", *notes]
    if cfg.train_fraction < 1.0:
        before = len(splits.train)
        splits = subsample_train(splits, cfg.train_fraction, seed, targets.strata)
        notes.append(f"data.train_fraction = {cfg.train_fraction}: training on {len(splits.train)} of {before} "
                     f"training samples; validation and test unchanged")
    return splits, notes


def _table_notes(rows_dropped: int, filled: dict[str, int], dropped: dict[str, str]) -> list[str]:
    notes = []
    if rows_dropped:
        notes.append(f"{rows_dropped} rows without a label were dropped")
    if filled:
        notes.append("missing values filled (median for numbers, a '(missing)' category for text): " +
                     ", ".join(f"{c} ({n})" for c, n in filled.items()))
    notes.extend(f"column '{c}' dropped: {why}" for c, why in dropped.items())
    return notes


# -- assembly -----------------------------------------------------------------------------------

def _assemble(name: str, modality: str, x: np.ndarray, targets: Targets, splits: Splits, spec: dict[str, Any],
              report: dict[str, Any], feature_names: list[str], rows: list[dict]) -> Dataset:
    y = targets.y
    input_shape, output_shape = tuple(int(s) for s in x.shape[1:]), tuple(int(s) for s in targets.output_shape)
    spec = {"format": SPEC_FORMAT, "name": name, "modality": modality, "task": targets.task,
            "input_shape": list(input_shape), "output_shape": list(output_shape),
            "num_outputs": targets.num_outputs, "class_names": targets.class_names,
            "feature_names": feature_names, **spec, **_target_scaling(targets, y[splits.train])}
    if targets.layout:
        spec["target_layout"] = targets.layout
    report = {"name": name, "modality": modality, "task": targets.task, "n_samples": len(y),
              "input_shape": list(input_shape), "output_shape": list(output_shape),
              "num_outputs": targets.num_outputs, "splits": splits.sizes(),
              "class_counts": _class_counts(targets, splits), **report,
              "notes": targets.notes + report.get("notes", [])}
    take = x.subset if getattr(x, "lazy", False) else x.__getitem__  # lazy rows: index arrays, not copies
    return Dataset(name, modality, targets.task, take(splits.train), y[splits.train], take(splits.val), y[splits.val],
                   take(splits.test), y[splits.test], input_shape, output_shape, targets.num_outputs,
                   targets.class_names, feature_names, spec, report, preview_rows=rows)


def _target_scaling(targets: Targets, y_train: np.ndarray) -> dict[str, Any]:
    """Training-split target mean/std for regression and dense tasks (y itself stays raw)."""
    if targets.task not in ("regression", "dense"):
        return {}
    axes = (0,) if targets.task == "regression" else tuple(i for i in range(y_train.ndim) if i != 1)
    mean, std = y_train.mean(axis=axes, dtype=np.float64), y_train.std(axis=axes, dtype=np.float64)
    std = np.where(std > 1e-12, std, 1.0)
    return {"target_mean": mean.tolist(), "target_std": std.tolist()}


def _class_counts(targets: Targets, splits: Splits) -> dict[str, dict[str, int]]:
    """Samples per class (positives per label for multi-label) in each split; empty for other tasks."""
    if targets.task not in ("classification", "multilabel"):
        return {}
    counts = {}
    for split, idx in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        y = targets.y[idx]
        per_class = (np.bincount(y, minlength=targets.num_outputs) if targets.task == "classification"
                     else y.sum(axis=0))
        counts[split] = {name: int(c) for name, c in zip(targets.class_names, per_class)}
    return counts

