"""Hostile files generated at test time, small on disk and huge when decoded.

The bombs are written without ever holding their decoded size: a deflate block of zeros is
compressed once, ended with a full flush (byte-aligned, no back-references across it), and
repeated, so a 3 GiB entry costs one 1 MiB compression and ~3 MB on disk.
"""
from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

MiB = 1 << 20
GiB = 1 << 30


# -- deflate streams of zeros ------------------------------------------------------------------

def deflated_zeros(total: int, block: int = MiB, prefix: bytes = b"") -> bytes:
    """A raw deflate stream (no zlib header) that inflates to `prefix` + `total` zero bytes."""
    start = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = start.compress(prefix) + start.flush(zlib.Z_FULL_FLUSH)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(total, block)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    return head + piece * whole + tail.compress(bytes(rest)) + tail.flush(zlib.Z_FINISH)


def write_raw_zip(path: Path, entries: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip of (name, raw deflate data, crc32, declared size) entries, written by hand so the
    declared size can differ from what the data inflates to."""
    out, central = io.BytesIO(), []
    for name, data, crc, size in entries:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0))
        out.write(encoded + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                                   len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    path.write_bytes(out.getvalue())
    return path


def zip_bomb(path: Path, size: int = 3 * GiB, declared: int | None = None, name: str = "cats/zeros.png") -> Path:
    """One entry inflating to `size` zeros; `declared` makes the headers lie about it (CRC then fits the
    declared prefix, so only counting the inflated bytes can catch it)."""
    declared = size if declared is None else declared
    crc = zlib.crc32(bytes(min(declared, size))) if declared <= 64 * MiB else 0
    return write_raw_zip(path, [(name, deflated_zeros(size), crc, declared),
                                ("dogs/zeros.png", deflated_zeros(10), zlib.crc32(bytes(10)), 10)])


# -- images ------------------------------------------------------------------------------------

def png_bomb(width: int, height: int, rows_per_block: int = 256) -> bytes:
    """A valid grayscale PNG of width x height black pixels, a few hundred KB on disk."""
    row = bytes(width + 1)  # filter byte 0 + the pixels
    block = row * rows_per_block
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(height, rows_per_block)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = piece * whole + tail.compress(row * rest) + tail.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(whole):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * rest, adler)
    idat = b"\x78\xda" + raw + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def small_png(value: int = 0, size: tuple[int, int] = (8, 8)) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("L", size, value).save(buffer, format="PNG")
    return buffer.getvalue()


def image_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


# -- NumPy files -------------------------------------------------------------------------------

def npy_header_only(shape: tuple[int, ...], dtype: str = "<f8", data: bytes = b"\0" * 64) -> bytes:
    """An .npy whose header declares `shape` (e.g. 64 TiB) followed by a few bytes of data."""
    return npy_header(shape, dtype) + data


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npz_of(path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


class TouchOnUnpickle:
    """Unpickling this creates `marker`: proof that a loader ran a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def pickled_object_array(marker: Path) -> np.ndarray:
    array = np.empty(4, dtype=object)
    array[:] = [TouchOnUnpickle(marker)] * 4
    return array


def raw_pickle(marker: Path) -> bytes:
    return pickle.dumps(TouchOnUnpickle(marker))
