"""CSV/TSV/TXT tables: reading, the label column, and the feature encoding.

Each feature column becomes numbers the model can take as tokens: numeric columns are median-filled
and standardised, text columns one-hot encoded (a missing value is its own category). Everything
is fitted on the training rows only and written to a JSON-able column spec, so a new file for
`predict` is encoded exactly like training.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

TABLE_SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": None}  # None: sniff the separator from the text
MAX_CATEGORIES = 50
MISSING = "(missing)"
_LABEL_HINTS = ("label", "labels", "target", "class", "y", "outcome", "diagnosis", "species")


def read_table(path: Path) -> pd.DataFrame:
    """The whole table, separator chosen by suffix; DataError for unreadable or empty files."""
    sep = TABLE_SEPARATORS.get(path.suffix.lower(), ",")
    try:
        table = pd.read_csv(path, sep=sep, skipinitialspace=True, engine="python" if sep is None else "c")
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name} is empty; give a header row and at least one data row") from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, OSError) as e:
        raise DataError(f"cannot read {path.name} as a table ({e}); "
                        f"check it is plain text with one row per line and a consistent separator") from None
    if len(table) == 0:
        raise DataError(f"{path.name} has a header but no data rows; add rows of data")
    table.columns = [str(c).strip() for c in table.columns]
    return table


def guess_label_column(columns: list[str]) -> str:
    """A column named like a target (label, target, class, ...), else the last column."""
    for hint in _LABEL_HINTS:
        for c in columns:
            if c.lower() == hint:
                return c
    return columns[-1]


def split_label(table: pd.DataFrame, label_column: str) -> tuple[pd.DataFrame, np.ndarray, int]:
    """(features, labels, rows dropped for a missing label). Default label: the last column."""
    label = label_column or table.columns[-1]
    if label not in table.columns:
        raise DataError(f"label column {label!r} not found; columns are: {', '.join(table.columns)}. "
                        f"Set data.label_column to one of them")
    if table.shape[1] < 2:
        raise DataError(f"the table has only the column {label!r}, so no features are left; if it holds several "
                        f"values per line, check the separator (.csv uses ',', .tsv tabs, .txt is sniffed)")
    has_label = table[label].notna().to_numpy()
    if not has_label.any():
        raise DataError(f"label column {label!r} is empty in every row; choose another data.label_column")
    kept = table[has_label]  # the index keeps file row numbers, so messages can point at rows
    return kept.drop(columns=[label]), label_values(kept[label]), int((~has_label).sum())


def label_values(column: pd.Series) -> np.ndarray:
    """Labels as numbers when every value is a number, else as text."""
    numeric = _as_numbers(column)
    if numeric is not None:
        values = numeric.to_numpy(dtype=np.float64)
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    return column.astype(str).str.strip().to_numpy(dtype=str)


# -- the feature encoding ----------------------------------------------------------------------

def fit_columns(features: pd.DataFrame) -> list[dict[str, Any]]:
    """One spec entry per feature column, fitted on these (training) rows.

    {"name", "kind": "numeric", "fill", "mean", "std"} | {"name", "kind": "categorical",
    "categories"} | {"name", "kind": "dropped", "reason"}.
    """
    columns = [_fit_column(str(name), features[name]) for name in features.columns]
    if all(c["kind"] == "dropped" for c in columns):
        reasons = "; ".join(f"'{c['name']}': {c['reason']}" for c in columns)
        raise DataError(f"no usable feature columns ({reasons}); give numeric columns or text columns with "
                        f"at most {MAX_CATEGORIES} distinct values")
    return columns


def encode_columns(features: pd.DataFrame, columns: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, int]]:
    """Encode rows with fitted column specs -> (float32 (N, F), missing values filled per column)."""
    needed = [c["name"] for c in columns if c["kind"] != "dropped"]
    absent = [n for n in needed if n not in features.columns]
    if absent:
        raise DataError(f"column{'s' if len(absent) > 1 else ''} {', '.join(map(repr, absent))} not found; "
                        f"the model was trained on: {', '.join(needed)}. Columns here: "
                        f"{', '.join(map(str, features.columns))}")
    blocks, filled = [], {}
    for spec in columns:
        if spec["kind"] == "dropped":
            continue
        block, n_missing = _ENCODE[spec["kind"]](features[spec["name"]], spec)
        blocks.append(block)
        if n_missing:
            filled[spec["name"]] = n_missing
    return np.concatenate(blocks, axis=1).astype(np.float32), filled


def feature_names(columns: list[dict[str, Any]]) -> list[str]:
    """One name per encoded feature: the column, or column=category for one-hot features."""
    names = []
    for c in columns:
        if c["kind"] == "numeric":
            names.append(c["name"])
        elif c["kind"] == "categorical":
            names.extend(f"{c['name']}={v}" for v in c["categories"])
    return names


def preview_rows(features: pd.DataFrame, n: int = 20) -> list[dict[str, Any]]:
    """The first rows as JSON-able dicts (missing values as None), as the user wrote them."""
    head = features.head(n).astype(object)
    return head.where(head.notna(), None).to_dict(orient="records")


def _fit_column(name: str, column: pd.Series) -> dict[str, Any]:
    numbers = _as_numbers(column)
    if numbers is not None:
        values = _finite(numbers, name).dropna()
        if values.nunique() < 2:
            return _dropped(name, "empty" if values.empty else "constant: the same value in every row")
        fill = float(values.median())
        filled = numbers.fillna(fill)
        std = float(filled.std(ddof=0))
        return {"name": name, "kind": "numeric", "fill": fill, "mean": float(filled.mean()),
                "std": std if std > 1e-12 else 1.0}
    text = _as_text(column)
    categories = sorted(text.dropna().unique().tolist())
    if len(categories) > MAX_CATEGORIES:
        return _dropped(name, f"{len(categories)} distinct text values, more than {MAX_CATEGORIES} "
                              f"(an id or free text?)")
    if text.isna().any():
        categories.append(MISSING)
    if len(categories) < 2:
        return _dropped(name, "constant: the same value in every row")
    return {"name": name, "kind": "categorical", "categories": categories}


def _encode_numeric(column: pd.Series, spec: dict[str, Any]) -> tuple[np.ndarray, int]:
    numbers = _as_numbers(column)
    if numbers is None:
        bad = column[pd.to_numeric(column, errors="coerce").isna() & column.notna()].iloc[0]
        raise DataError(f"column '{spec['name']}' was numeric in training but holds {bad!r} here; "
                        f"give numbers (or leave the cell empty to have it filled)")
    numbers = _finite(numbers, spec["name"])
    missing = int(numbers.isna().sum())
    values = numbers.fillna(spec["fill"]).to_numpy(dtype=np.float64)
    return ((values - spec["mean"]) / spec["std"])[:, None], missing


def _encode_categorical(column: pd.Series, spec: dict[str, Any]) -> tuple[np.ndarray, int]:
    text = _as_text(column)
    missing = int(text.isna().sum())
    text = text.fillna(MISSING)
    # a category never seen in training encodes as all zeros: the model has no weight for it
    one_hot = np.stack([(text == c).to_numpy(dtype=np.float64) for c in spec["categories"]], axis=1)
    return one_hot, missing


_ENCODE = {"numeric": _encode_numeric, "categorical": _encode_categorical}


def _as_numbers(column: pd.Series) -> pd.Series | None:
    """The column as float64 if every present value is a number (or true/false), else None."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64)
    numbers = pd.to_numeric(column, errors="coerce")
    if (numbers.isna() & column.notna()).any():
        return None
    return numbers.astype(np.float64)


def _as_text(column: pd.Series) -> pd.Series:
    text = column.astype(object).where(column.notna(), None)
    return text.map(lambda v: None if v is None else str(v).strip())


def _finite(numbers: pd.Series, name: str) -> pd.Series:
    infinite = np.isinf(numbers.to_numpy(dtype=np.float64))
    if infinite.any():
        rows = ", ".join(str(i + 1) for i in numbers.index[infinite][:5])  # 1-based data rows, as in a spreadsheet
        raise DataError(f"column '{name}' has {int(infinite.sum())} infinite values (data row {rows}); replace them "
                        f"with numbers, or leave the cells empty to have them filled with the median")
    return numbers


def _dropped(name: str, reason: str) -> dict[str, Any]:
    return {"name": name, "kind": "dropped", "reason": reason}
