"""Decoding caps: how much a single upload may unpack into memory before it is refused.

A public app must survive hostile files: a 3 MB zip can inflate to gigabytes, a PNG header can
declare 20000x20000 pixels, an .npz header can declare a 64 TiB array. Every reader in
`orca_engine.data` checks what a file *declares* against these caps before allocating, and
counts what it actually decompresses, so memory stays bounded whatever the header says.

Each cap has a default sized for a 2-core / 16 GB Space and an environment override, read at
each call so an admin (or a test) can change it without code:

    ORCA_MAX_DECOMPRESSED_MB=2048 python -m orca_engine run --data big.zip

A refused file raises `DataError` naming the cap, its value and the variable that raises it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping

from .errors import ConfigError, DataError

MB = 1 << 20


def _cap(default: int, env: str, help: str, unit: str):
    return field(default=default, metadata={"env": env, "help": help, "unit": unit})


@dataclass(frozen=True)
class Limits:
    """Caps on what one input file may decode to; see the module docstring."""
    max_decompressed_mb: int = _cap(512, "ORCA_MAX_DECOMPRESSED_MB",
                                    "bytes unpacked from one .zip or .npz archive, all entries together", "MB")
    max_zip_entries: int = _cap(60_000, "ORCA_MAX_ZIP_ENTRIES", "entries (files and folders) in one archive",
                                "entries")
    max_image_pixels: int = _cap(40_000_000, "ORCA_MAX_IMAGE_PIXELS",
                                 "width x height of one image, read from its header before decoding", "pixels")
    max_array_mb: int = _cap(512, "ORCA_MAX_ARRAY_MB",
                             "bytes of array data in one .npy/.npz file (declared shape x item size), and of "
                             "the decoded image stack", "MB")
    max_csv_mb: int = _cap(100, "ORCA_MAX_CSV_MB", "size on disk of one CSV/TSV/TXT table", "MB")
    max_csv_rows: int = _cap(1_000_000, "ORCA_MAX_CSV_ROWS",
                             "data rows read from one table when no data.max_samples applies (inspect, "
                             "predict)", "rows")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Limits":
        """The defaults, with any ORCA_MAX_* variable in `environ` (default os.environ) applied."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            text = environ.get(f.metadata["env"], "").strip()
            if text:
                values[f.name] = _positive_int(text, f.metadata["env"])
        return cls(**values)

    def bytes_of(self, name: str) -> int:
        """A cap in bytes (for the *_mb caps)."""
        return getattr(self, name) * MB

    def refuse(self, name: str, found: str, advice: str = "") -> DataError:
        """A DataError saying what was found, which cap it passes and how to raise that cap."""
        f = next(f for f in fields(self) if f.name == name)
        value, unit = getattr(self, name), f.metadata["unit"]
        return DataError(f"{found}: over the cap of {value:,} {unit} on {f.metadata['help']} "
                         f"({f.metadata['env']}); {advice + ', or ' if advice else ''}ask the admin to raise "
                         f"{f.metadata['env']} if the file is genuine")


def limits() -> Limits:
    """The caps in force now (environment read at each call)."""
    return Limits.from_env()


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB', 70368744177664 -> '64.0 TiB': sizes in messages."""
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def _positive_int(text: str, env: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"environment variable {env} = {text!r} is not allowed; give a whole number >= 1")
    return value
