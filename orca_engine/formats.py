"""Every file format the engine reads or writes, registered once: the single place to add one.

    FILE_FORMATS.get("csv").family        # "table"
    format_of("data.TSV")                  # FileFormat(name="tsv", ...) or None
    suffixes(training=True)                # (".csv", ".tsv", ".txt", ".npz", ".npy", ".zip")

A record says which reader family handles the file (`data.loader` and `data.inspection` keep one
function per family, never per suffix), whether it can be a training source, whether a trained
model can predict on it, and whether it is text (an exported zip rewrites server paths in text
files). To add a format: one `FileFormat` here, and a reader for its family in `orca_engine/data/`
if the family is new; the app's upload pickers (`suffixes(training=True)`) and the error messages follow this registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .registry import Registry


@dataclass(frozen=True)
class FileFormat:
    name: str                    # the suffix without its dot, lower case
    family: str                  # "table" | "arrays" | "array" | "images" | "image" | "record"
    description: str
    training: bool = False       # a data source `load_dataset` accepts
    predict: bool = False        # a file `encode_inputs` accepts for a trained model
    text: bool = False           # text: exports replace server paths in it
    separator: str | None = None  # tables: the column separator (None: sniffed from the text)

    @property
    def suffix(self) -> str:
        return f".{self.name}"


FILE_FORMATS: Registry[FileFormat] = Registry("file format")
for _format in (
    FileFormat("csv", "table", "comma-separated table, one row per sample", True, True, True, ","),
    FileFormat("tsv", "table", "tab-separated table", True, True, True, "\t"),
    FileFormat("txt", "table", "table with a separator sniffed from its text", True, True, True, None),
    FileFormat("npz", "arrays", "NumPy arrays x and y (or x_train, y_train, ...)", True, True),
    FileFormat("npy", "array", "one NumPy array of inputs (predict only: training needs targets)", True, True),
    FileFormat("zip", "images", "zip of images, one folder per class", True, True),
    FileFormat("png", "image", "one image (predict)", predict=True),
    FileFormat("jpg", "image", "one image (predict)", predict=True),
    FileFormat("jpeg", "image", "one image (predict)", predict=True),
    FileFormat("json", "record", "run record: config, metrics, model description", text=True),
    FileFormat("jsonl", "record", "run record: one event per line", text=True),
    FileFormat("html", "record", "exported interactive figure", text=True),
):
    FILE_FORMATS.register(_format.name, _format)


def format_of(path: str | Path) -> FileFormat | None:
    """The registered format of a file name (case-insensitive suffix), or None."""
    name = Path(path).suffix.lower().lstrip(".")
    return FILE_FORMATS.get(name) if name in FILE_FORMATS else None


def suffixes(*, training: bool | None = None, predict: bool | None = None, text: bool | None = None,
             family: str | None = None) -> tuple[str, ...]:
    """Suffixes (with their dots) of the formats matching every given flag, in registry order."""
    def wanted(f: FileFormat) -> bool:
        return ((training is None or f.training == training) and (predict is None or f.predict == predict)
                and (text is None or f.text == text) and (family is None or f.family == family))
    return tuple(f.suffix for _, f in FILE_FORMATS.items() if wanted(f))

