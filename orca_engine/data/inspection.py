"""`inspect_file`: a quick look at a file for the UI, before anything is loaded or split.

Cheap by design: .npy/.npz shapes come from the array headers (no data read), zips are listed
rather than decoded. Guesses (label column, modality, task) are hints for the form, not decisions.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..formats import format_of, suffixes
from ..limits import limits
from . import archives, arrays, images, tabular
from .tasks import infer_task

_MAX_DISTINCT_SHOWN = 10


def inspect_file(path: str | Path) -> dict[str, Any]:
    """{"kind", "name", "size_bytes", ...}: columns (tables), arrays (npy/npz) or class folders (zip)."""
    path = Path(path)
    file_format = format_of(path)
    if file_format is None or not file_format.training:
        raise DataError(f"cannot inspect {path.name}: unsupported file type; "
                        f"accepted: {', '.join(suffixes(training=True))}")
    if not path.is_file():
        raise DataError(f"file not found: {path}; check the path")
    info = {"kind": file_format.name, "name": path.name, "size_bytes": path.stat().st_size}
    return {**info, **_INSPECTORS[file_format.family](path)}


def _inspect_table(path: Path) -> dict[str, Any]:
    table = tabular.read_table(path)
    columns = [_describe_column(name, table[name]) for name in table.columns]
    label = tabular.guess_label_column(list(table.columns))
    info = {"n_rows": len(table), "columns": columns, "label_guess": label, "modality_guess": "tabular"}
    labels = table[label].dropna()
    if len(labels):
        try:
            info["task_guess"] = infer_task(tabular.label_values(labels), None)[0]
        except DataError:
            pass  # a guess only: loading will explain the problem properly
    return info


def _describe_column(name: str, column) -> dict[str, Any]:
    distinct = column.dropna().unique()
    return {"name": name, "dtype": str(column.dtype), "missing": int(column.isna().sum()),
            "distinct": len(distinct), "examples": [_plain(v) for v in distinct[:_MAX_DISTINCT_SHOWN]]}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _inspect_arrays(path: Path) -> dict[str, Any]:
    headers = _array_headers(path)
    info: dict[str, Any] = {"arrays": {k: {"shape": list(s), "dtype": d} for k, (s, d) in headers.items()}}
    x_key = next((k for k in (*arrays.X_KEYS, "x_train", "X_train") if k in headers), None)
    if x_key is not None and len(headers[x_key][0]) >= 2:
        try:
            layout, note = arrays.choose_layout(tuple(headers[x_key][0][1:]), "auto")
            info["modality_guess"], info["modality_note"] = layout["modality"], note
        except DataError as e:
            info["problem"] = str(e)
    info["has_splits"] = any(k.startswith(("x_", "X_")) for k in headers)
    return info


def _array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """{name: (shape, dtype)} read from .npy headers only; object (pickled) arrays show dtype 'object'."""
    if path.suffix.lower() in suffixes(family="array"):
        with open(path, "rb") as f:
            return {"x": _read_header(f, path.name, "x")}
    with archives.BoundedZip(path, limits(), archives.NPZ_KIND) as archive:
        headers = {}
        for member in (n for n in archive.namelist() if n.endswith(".npy")):
            with archive.open(member) as stream:
                headers[Path(member).stem] = _read_header(stream, path.name, Path(member).stem)
        return headers


def _read_header(f, name: str, key: str) -> tuple[tuple[int, ...], str]:
    header = arrays.read_header(f, name, key)
    return header.shape, ("object" if header.dtype.hasobject else str(header.dtype))


def _inspect_zip(path: Path) -> dict[str, Any]:
    with images.open_zip(path) as archive:
        entries = images.image_entries(archive)
    counts = Counter(images.class_of(e) for e in entries)
    loose = counts.pop("", 0)
    info = {"n_images": len(entries), "classes": dict(sorted(counts.items())), "modality_guess": "image",
            "task_guess": "classification"}
    if loose:
        info["problem"] = f"{loose} images are not in a class folder; put each image in a folder named after its class"
    return info


_INSPECTORS = {"table": _inspect_table, "array": _inspect_arrays, "arrays": _inspect_arrays, "images": _inspect_zip}
