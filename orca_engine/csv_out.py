"""Prediction tables written as CSV that any reader parses back and no spreadsheet executes.

Class names come from user files, so they may hold commas, quotes or newlines (the `csv` module
quotes those), or start like a formula (`=HYPERLINK(...)`, `+1+cmd|...`), which Excel and
LibreOffice would run when the file is opened. Following OWASP's CSV-injection rule, a text cell
starting with = + - @ tab or CR gets a leading apostrophe; numbers, negative ones included, stay
numbers.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as data: numbers unchanged, formula-looking text escaped with '."""
    if isinstance(value, (bool, int, float)) or hasattr(value, "dtype"):
        return value.item() if hasattr(value, "item") else value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def csv_text(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    """The whole table as CSV text: every cell made safe, quoting left to the csv module."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(c) for c in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return buffer.getvalue()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return not text.startswith(("\t", "\r"))  # float() forgives surrounding whitespace; a spreadsheet may not
