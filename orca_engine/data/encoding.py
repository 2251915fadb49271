"""New data for `predict`, encoded exactly like training from the dataset's JSON spec."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..formats import format_of, suffixes
from . import arrays, images, tabular
from .tasks import encode_targets_like


def encode_inputs(source: str | Path | np.ndarray | pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """Encode new inputs like the training data: float32 (N, *spec["input_shape"]).

    source: a file (CSV/TSV for tables, .npy/.npz for arrays, an image or a zip of images for
    image-folder datasets), a DataFrame (tables) or an array in the training file's layout. A
    label column may be present or absent; it is ignored.
    """
    kind = spec.get("source_kind")
    if kind == "table":
        x = _encode_table(source, spec)
    elif kind in ("arrays", "images"):
        x = _encode_grid(source, spec)
    else:
        raise DataError(f"this spec has no known source_kind ({kind!r}); it was not written by load_dataset")
    expected = tuple(spec["input_shape"])
    if tuple(x.shape[1:]) != expected:  # a guard for the engine: the model would fail less clearly
        raise DataError(f"encoded inputs have shape {tuple(x.shape[1:])} per sample, the model expects {expected}")
    return x


def encode_labelled(source: str | Path | pd.DataFrame, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a labelled file, both encoded like training: for scoring a model on new data.

    Tables need the training label column (rows without a label are skipped); .npz files need
    x and y (or x_test and y_test); image zips need class folders named like the training classes.
    """
    kind = spec.get("source_kind")
    if kind == "table":
        table = source if isinstance(source, pd.DataFrame) else tabular.read_table(Path(source))
        features, labels, _ = tabular.split_label(table, spec["label_column"])
        return _encode_table(features, spec), encode_targets_like(labels, spec)
    path = Path(source)
    if kind == "images" and path.suffix.lower() == ".zip":
        with images.open_zip(path) as archive:
            labels = np.array([images.class_of(e) for e in images.image_entries(archive)])
        return encode_inputs(path, spec), encode_targets_like(labels, spec)
    file_format = format_of(path)
    found = arrays.load_arrays(path) if file_format and file_format.family == "arrays" else {}
    parts = [(found[xk], found[yk]) for xk, yk in (("x", "y"), ("x_test", "y_test")) if xk in found and yk in found]
    if not parts:
        raise DataError(f"{path.name} needs inputs and targets to score a model: an .npz with x and y "
                        f"(or x_test and y_test); arrays found: {', '.join(found) or 'none'}")
    x, y = parts[0]
    arrays.check_lengths(x, y)
    return encode_inputs(x, spec), encode_targets_like(y, spec)


def target_stats(spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Training-split target (mean, std) shaped to broadcast against y (N, *output_shape).

    Regression and dense only (None otherwise): the engine standardises y with these for the loss
    and maps predictions back with y = pred * std + mean.
    """
    if "target_mean" not in spec:
        return None
    mean, std = np.asarray(spec["target_mean"], np.float32), np.asarray(spec["target_std"], np.float32)
    if spec["task"] == "dense":  # per output channel: (1, C_out, 1[, 1])
        shape = (1, -1) + (1,) * (len(spec["output_shape"]) - 1)
        return mean.reshape(shape), std.reshape(shape)
    return mean[None], std[None]  # (1,) or (1, T)


def _encode_table(source, spec: dict[str, Any]) -> np.ndarray:
    if isinstance(source, pd.DataFrame):
        table = source
    elif isinstance(source, np.ndarray):
        table = _table_from_array(source, spec)
    else:
        path = Path(source)
        if path.suffix.lower() not in suffixes(family="table"):
            raise DataError(f"the model was trained on a table; give a .csv or .tsv file, not {path.name}")
        table = tabular.read_table(path)
    return tabular.encode_columns(table, spec["columns"])[0]


def _table_from_array(x: np.ndarray, spec: dict[str, Any]) -> pd.DataFrame:
    """A raw numeric array whose columns are the training columns in order (the dropped ones left out)."""
    used = [c for c in spec["columns"] if c["kind"] != "dropped"]
    if any(c["kind"] != "numeric" for c in used):
        raise DataError("this model has text (categorical) columns; give a CSV or a DataFrame, not an array")
    x = np.atleast_2d(np.asarray(x))
    if x.shape[1] != len(used):
        raise DataError(f"an array of table rows needs {len(used)} columns ({', '.join(c['name'] for c in used)}), "
                        f"got {x.shape[1]}")
    return pd.DataFrame(x, columns=[c["name"] for c in used])


def _encode_grid(source, spec: dict[str, Any]) -> np.ndarray:
    if isinstance(source, np.ndarray):
        x = arrays.apply_layout(arrays.check_inputs(_with_batch(source, spec)), spec["layout"])
    else:
        x = _read_grid_file(Path(source), spec)
    return arrays.apply_scaling(x, spec["input_scaling"])


def _with_batch(x: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    return x[None] if x.ndim == len(spec["layout"]["sample_shape"]) else x


def _read_grid_file(path: Path, spec: dict[str, Any]) -> np.ndarray:
    suffix = path.suffix.lower()
    image_files = suffixes(family="image") + suffixes(family="images")
    if spec["source_kind"] == "images" and suffix in image_files:
        return images.read_images_for_predict(path, spec["image"])
    array_files = suffixes(family="array") + suffixes(family="arrays")
    if suffix not in array_files:
        accepted = ", ".join(array_files + (image_files if spec["source_kind"] == "images" else ()))
        raise DataError(f"cannot read {path.name} for this model; give one of: {accepted}")
    found = arrays.load_arrays(path)
    x = next((found[k] for k in (*arrays.X_KEYS, "x_test") if k in found), None)
    if x is None:
        x = next(iter(found.values())) if len(found) == 1 else None
    if x is None:
        raise DataError(f"{path.name} has no inputs 'x'; arrays found: {', '.join(found) or 'none'}")
    return arrays.apply_layout(arrays.check_inputs(_with_batch(x, spec)), spec["layout"])
