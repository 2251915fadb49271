"""CSV/TSV/TXT tables: reading, the label column, and the feature encoding.

Each feature column becomes numbers the model can take as tokens: numeric columns are median-filled
and standardised, text columns one-hot encoded (a missing value is its own category). Everything
is fitted on the training rows only and written to a JSON-able column spec, so a new file for
`predict` is encoded exactly like training.

Reading is bounded and explained: files over ORCA_MAX_CSV_MB are refused unread, rows are parsed
in chunks and cut at data.max_samples, and text that is not a UTF-8 table (UTF-16, Latin-1, NUL
bytes, prose, ragged rows) gets a message saying what it is and how to re-save it.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..formats import format_of
from ..limits import Limits, human_bytes, limits

MAX_CATEGORIES = 50
MISSING = "(missing)"
_EXACT_WHOLE = 2.0 ** 53  # beyond this, neighbouring whole numbers share one float64
_SNIFF_BYTES = 64 * 1024  # enough text to see the separator and the encoding
_SNIFF_LINES = 50
_CHUNK_ROWS = 20_000  # rows parsed at a time: the row cap is checked between chunks
_LABEL_HINTS = ("label", "labels", "target", "class", "y", "outcome", "diagnosis", "species")


def read_table(path: Path, max_rows: int | None = None) -> pd.DataFrame:
    """The table, separator chosen by suffix; DataError for unreadable, oversized or empty files.

    Bounded before and while reading: a file over ORCA_MAX_CSV_MB is refused unread, text that is not
    UTF-8 (or holds NUL bytes) is refused with advice, and rows are read in chunks so a file with more
    than `max_rows` rows (data.max_samples) is refused as soon as that many have been seen.
    """
    caps = limits()
    _check_size(path, caps)
    sample = _text_sample(path)
    _check_no_nul(path)
    file_format = format_of(path)
    sep = (file_format.separator if file_format else ",") or sniff_separator(sample, path.name)
    row_cap = (max_rows, "data.max_samples") if max_rows is not None else (caps.max_csv_rows, "")
    table = _read_rows(path, sep, row_cap, caps)
    table.columns = [str(c).strip() for c in table.columns]
    return table


def sniff_separator(sample: str, name: str) -> str:
    """The separator of a .txt table: the first of tab, comma, semicolon, | and runs of spaces that
    splits the header and most lines into the same number (>= 2) of fields. Prose matches none."""
    lines = [line for line in sample.splitlines() if line.strip()][:_SNIFF_LINES]
    if not sample.endswith("\n") and len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    for sep in ("\t", ",", ";", "|"):
        if lines and _consistent([len(row) for row in csv.reader(lines, delimiter=sep)]):
            return sep
    if lines and _consistent([len(line.split()) for line in lines]):
        return r"\s+"
    raise DataError(f"{name} does not look like a table: no separator (tab, comma, semicolon, | or spaces) splits "
                    f"its lines into the same number of fields, as in prose or free text. Give a header row, "
                    f"then one row per sample, e.g. 'height,weight,label'")


def _consistent(counts: list[int]) -> bool:
    """At least two fields in the header, and the header's count on 80% or more of the lines."""
    return counts[0] >= 2 and sum(c == counts[0] for c in counts) >= 0.8 * len(counts)


def _check_size(path: Path, caps: Limits) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    if size > caps.bytes_of("max_csv_mb"):
        raise caps.refuse("max_csv_mb", f"{path.name} is {human_bytes(size)}",
                          "use a subset of the rows, or save the data as a compact .npz")


def _text_sample(path: Path) -> str:
    """The first bytes as text, refusing UTF-16/32 early: pandas would read it as garbage columns."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path.name} is UTF-16 text; re-save it as UTF-8 (in Excel: Save As 'CSV UTF-8'; in an "
                        f"editor: Save with encoding UTF-8)")
    return head.decode("utf-8", errors="replace")


def _check_no_nul(path: Path) -> None:
    """NUL bytes never belong in a text table: UTF-16 without its marker, or a binary file renamed."""
    offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            at = chunk.find(b"\x00")
            if at >= 0:
                utf16 = chunk[:4096].count(b"\x00") > len(chunk[:4096]) // 4
                fix = ("it looks like UTF-16 text: re-save it as UTF-8 (in Excel: Save As 'CSV UTF-8')" if utf16
                       else "a table is plain text: re-save it as CSV (UTF-8), or check it is not a binary file")
                raise DataError(f"{path.name} holds NUL bytes (the first at byte {offset + at}); {fix}")
            offset += len(chunk)


def _read_rows(path: Path, sep: str, row_cap: tuple[int, str], caps: Limits) -> pd.DataFrame:
    limit, field = row_cap
    chunks, rows = [], 0
    try:
        reader = pd.read_csv(path, sep=sep, skipinitialspace=True, chunksize=min(_CHUNK_ROWS, limit + 1),
                             encoding="utf-8")
        with reader:
            for chunk in reader:
                chunks.append(chunk)
                rows += len(chunk)
                if rows > limit:
                    raise _too_many_rows(path.name, limit, field, caps)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name} is empty; give a header row and at least one data row") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path.name} is not UTF-8 text (byte 0x{e.object[e.start]:02x} cannot be decoded; Latin-1 "
                        f"or Windows-1252, perhaps); re-save it as UTF-8 (in Excel: Save As 'CSV UTF-8')") from None
    except (pd.errors.ParserError, csv.Error, OSError, ValueError) as e:
        raise DataError(_parse_problem(path.name, e)) from None
    if not rows:
        raise DataError(f"{path.name} has a header but no data rows; add rows of data")
    return pd.concat(chunks) if len(chunks) > 1 else chunks[0]


def _too_many_rows(name: str, limit: int, field: str, caps: Limits) -> DataError:
    if field:
        return DataError(f"{name} has more than {limit:,} rows, more than {field} = {limit:,} allows; raise "
                         f"{field} or use a subset of the data (refused before reading the rest of the file)")
    return caps.refuse("max_csv_rows", f"{name} has more than {limit:,} rows", "use a subset of the rows")


def _parse_problem(name: str, error: Exception) -> str:
    """A pandas parser message, in the user's terms (one line)."""
    text = " ".join(str(error).split())
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if ragged:
        want, line, got = ragged.groups()
        return (f"{name}: line {line} has {got} fields but the lines before it have {want}; every row needs the same "
                f"number of separators. Quote text cells that contain the separator (\"a, b\"), or fix that line")
    return (f"cannot read {name} as a table ({text}); check it is plain text with one row per line and a "
            f"consistent separator")


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
    """Labels as numbers when every value is a number, else as text.

    Whole numbers beyond 2**53 cannot all be told apart as float64 (1e30 and 1e30 + 1 are the same
    float, and int64 overflows past 9.2e18): when the file wrote them as digits they stay text, so
    distinct ids stay distinct classes.
    """
    numeric = _as_numbers(column)
    if numeric is not None:
        values = numeric.to_numpy(dtype=np.float64)
        if not np.all(values == np.round(values)):
            return values
        if np.abs(values).max() < _EXACT_WHOLE:
            return values.astype(np.int64)
        if column.dtype == object:  # pandas kept the digits (too long for int64): keep them exact
            return column.astype(str).str.strip().to_numpy(dtype=str)
        return values
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
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, in words
            mean, std = float(filled.mean()), float(filled.std(ddof=0))
        _check_statistics(name, values, mean, std)
        return {"name": name, "kind": "numeric", "fill": fill, "mean": mean, "std": std if std > 1e-12 else 1.0}
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


def _check_statistics(name: str, values: pd.Series, mean: float, std: float) -> None:
    """Values near float64's limit (1e308) overflow the mean or spread; the encoded column would be NaN
    and training would fail far from the cause, so name the column here."""
    if np.isfinite(mean) and np.isfinite(std):
        return
    peak = float(values.abs().max())
    raise DataError(f"column '{name}' has values as large as {peak:.3g}, so its mean or spread overflows to "
                    f"infinity and it cannot be standardised; rescale the column (divide by a constant, or take "
                    f"a log) so values stay below about 1e150")


def _dropped(name: str, reason: str) -> dict[str, Any]:
    return {"name": name, "kind": "dropped", "reason": reason}
