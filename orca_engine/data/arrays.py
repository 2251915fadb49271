"""`.npy` / `.npz` arrays: safe loading, the input layout (modality) and per-channel scaling.

Arrays are never unpickled (`allow_pickle=False`): a file holding Python objects is refused with a
message saying how to save plain numbers instead. Nothing is allocated before each header's shape
and dtype pass the caps in `orca_engine.limits` (ORCA_MAX_ARRAY_MB). The layout turns whatever the file held into the
engine's convention, (N, C, L) sequences, (N, C, H, W) images or (N, F) rows, and is kept in the
spec so `predict` reshapes new files the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import DataError
from ..formats import suffixes
from ..limits import Limits, human_bytes, limits
from . import archives

X_KEYS = ("x", "X", "inputs", "data")
Y_KEYS = ("y", "Y", "labels", "targets")
SPLIT_ALIASES = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
MIN_LENGTH = 2  # a sequence the 1-D embedder can cut into at least one token
MIN_SIDE = 4  # smallest image side a 2-D embedder patches sensibly
FLOAT32_MAX = float(np.finfo(np.float32).max)
_IMAGE_LIKE_SIDE = 8  # (N, A, B) with both sides >= 8 and a square-ish aspect reads as images


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array in a .npy ({"x": array}) or .npz file, refusing pickled object arrays.

    Each array's header (shape, dtype) is read and checked against the caps before any data is
    allocated, so a header declaring 64 TiB costs nothing; .npz members are inflated through a
    counted stream, and a .npy file is memory-mapped rather than read.
    """
    caps = limits()
    if path.suffix.lower() in suffixes(family="array"):
        return {"x": _load_npy(path, caps)}
    with archives.BoundedZip(path, caps, archives.NPZ_KIND) as archive:
        members = [n for n in archive.namelist() if n.endswith(".npy")]
        headers = {n: _member_header(archive, n, path, caps) for n in members}
        _check_declared(sum(h.nbytes for h in headers.values()), path, caps)
        return {n[:-len(".npy")]: _read_member(archive, n, headers[n], path) for n in members}


@dataclass(frozen=True)
class ArrayHeader:
    """What a .npy header declares, before any data is read."""
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes of magic + header, where the data starts

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: a 2**60-element shape cannot overflow


def read_header(f: BinaryIO, name: str, key: str) -> ArrayHeader:
    """The header of one .npy stream (object dtypes included: callers refuse them); DataError for
    non-NumPy data or a damaged header."""
    try:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version} is not supported")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except DataError:
        raise  # the archive's own refusal (a cap, damage), already in the user's terms
    except ValueError as e:
        what = f"array {key!r} in {name}" if key else name
        raise DataError(f"cannot read {what}: it is not NumPy .npy data ({str(e).splitlines()[0]}); reading it "
                        f"any other way would need unpickling, which is refused for safety. Save arrays with "
                        f"np.save / np.savez") from None
    return ArrayHeader(tuple(int(s) for s in shape), dtype, f.tell())


def _refuse_objects(header: ArrayHeader, name: str, key: str) -> None:
    """Object arrays are pickles: never load one, whatever it claims to hold."""
    if header.dtype.hasobject:
        raise DataError(f"array {key!r} in {name} holds Python objects (dtype=object), usually a ragged "
                        f"list of samples with different lengths; loading it would need unpickling, which is "
                        f"refused for safety. Pad or crop samples to one shape and save plain numbers, e.g. "
                        f"np.save(path, np.asarray(x, dtype=np.float32))")


def _load_npy(path: Path, caps: Limits) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            header = read_header(f, path.name, "x")
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}; check the path") from None
    _refuse_objects(header, path.name, "x")
    _check_declared(header.nbytes, path, caps)
    if path.stat().st_size < header.offset + header.nbytes:
        raise _truncated(path.name, "x", header)
    if header.nbytes == 0:
        return np.zeros(header.shape, header.dtype)
    return np.load(path, mmap_mode="r", allow_pickle=False)  # pages are read as used, not all at once


def _member_header(archive: archives.BoundedZip, member: str, path: Path, caps: Limits) -> ArrayHeader:
    key = member[:-len(".npy")]
    with archive.open(member) as stream:
        header = read_header(stream, path.name, key)
        archive.used -= stream.count  # the header is read again with the data: count it once
    _refuse_objects(header, path.name, key)
    _check_declared(header.nbytes, path, caps)
    if archive.archive.getinfo(member).file_size < header.offset + header.nbytes:
        raise _truncated(path.name, key, header)
    return header


def _read_member(archive: archives.BoundedZip, member: str, header: ArrayHeader, path: Path) -> np.ndarray:
    limit = archives.EntryLimit(header.offset + header.nbytes, "max_array_mb", "its array header declares")
    with archive.open(member, limit) as stream:
        try:
            return np.lib.format.read_array(stream, allow_pickle=False)
        except DataError:
            raise
        except (ValueError, EOFError):
            raise _truncated(path.name, member[:-len(".npy")], header) from None


def _check_declared(nbytes: int, path: Path, caps: Limits) -> None:
    if nbytes > caps.bytes_of("max_array_mb"):
        raise caps.refuse("max_array_mb", f"{path.name} declares {human_bytes(nbytes)} of array data",
                          "use fewer samples (data.max_samples) or a smaller dtype such as float32")


def _truncated(name: str, key: str, header: ArrayHeader) -> DataError:
    return DataError(f"array {key!r} in {name} is truncated: its header declares shape {header.shape} of "
                     f"{header.dtype} ({human_bytes(header.nbytes)}) but the file holds less; save it again "
                     f"with np.save / np.savez")


def pick_arrays(arrays: dict[str, np.ndarray], name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (x, y)}: ready-made splits ("train" required, "val"/"test" optional) or {"all": (x, y)}."""
    splits = {}
    for split, aliases in SPLIT_ALIASES.items():
        x = _first(arrays, [f"{k}_{a}" for a in aliases for k in X_KEYS])
        y = _first(arrays, [f"{k}_{a}" for a in aliases for k in Y_KEYS])
        if (x is None) != (y is None):
            raise DataError(f"{name} has {'x' if y is None else 'y'}_{split} without its partner; give both "
                            f"x_{split} and y_{split}. Arrays found: {', '.join(arrays)}")
        if x is not None:
            splits[split] = (x, y)
    if splits:
        if "train" not in splits:
            raise DataError(f"{name} has ready-made splits ({', '.join(splits)}) but no x_train / y_train; "
                            f"add them. Arrays found: {', '.join(arrays)}")
        return splits
    x, y = _first(arrays, X_KEYS), _first(arrays, Y_KEYS)
    if x is None or y is None:
        missing = "inputs 'x'" if x is None else "labels 'y'"
        raise DataError(f"{name} has no {missing}; arrays found: {', '.join(arrays) or 'none'}. Save inputs and "
                        f"labels together, e.g. np.savez('data.npz', x=x, y=y), or with splits x_train, y_train, "
                        f"x_test, y_test")
    return {"all": (x, y)}


def _first(arrays: dict[str, np.ndarray], keys) -> np.ndarray | None:
    return next((arrays[k] for k in keys if k in arrays), None)


def check_inputs(x: np.ndarray, what: str = "x") -> np.ndarray:
    """x as a numeric array with finite values; DataError naming the problem otherwise."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{what} must hold numbers, got dtype {x.dtype}; convert it, e.g. x.astype(np.float32)")
    if x.ndim < 2 or x.shape[0] == 0:
        raise DataError(f"{what} has shape {tuple(x.shape)}; give one row per sample, e.g. (N, L) signals or "
                        f"(N, H, W) images")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise DataError(f"{what} has {int(bad.sum())} NaN or infinite values (first in sample {first}); "
                            f"remove those samples or fill the gaps before loading")
        _check_float32_range(x, what)
    return x


def _check_float32_range(x: np.ndarray, what: str) -> None:
    """Finite float64 values beyond float32's range become inf in the model (which computes in float32),
    and the loss then turns NaN far from the cause: say so here, naming the sample."""
    if x.dtype.itemsize <= 4 or x.size == 0:
        return
    peak = max(float(x.max()), -float(x.min()))
    if peak > FLOAT32_MAX:
        first = int(np.argwhere(np.abs(x) > FLOAT32_MAX)[0][0])
        raise DataError(f"{what} has values as large as {peak:.3g} (first in sample {first}); the model computes "
                        f"in float32, whose largest value is {FLOAT32_MAX:.3g}, so they would overflow to "
                        f"infinity. Rescale the inputs (divide by a constant, or take a log) before saving")


def check_lengths(x: np.ndarray, y: np.ndarray, where: str = "") -> None:
    if len(x) != len(y):
        raise DataError(f"x{where} has {len(x)} samples but y{where} has {len(y)}; they must match one to one")


# -- layout: file shape -> engine shape -------------------------------------------------------

def choose_layout(sample_shape: tuple[int, ...], modality: str) -> tuple[dict[str, Any], str]:
    """How samples of `sample_shape` become engine inputs under `modality` ("auto" infers it).

    Returns (layout, note). layout = {"modality", "sample_shape" (as in the file), "add_channel",
    "channels_last"}. Raises DataError for shapes no embedder accepts.
    """
    rank = len(sample_shape)
    if rank == 1:
        return _layout_1d(sample_shape, modality)
    if rank == 2:
        return _layout_2d(sample_shape, modality)
    if rank == 3:
        return _layout_3d(sample_shape, modality)
    raise DataError(f"samples of shape {tuple(sample_shape)} fit no embedder: give (N, L) or (N, C, L) "
                    f"sequences, (N, H, W), (N, C, H, W) or (N, H, W, C) images, or (N, F) table rows")


def _layout_1d(shape, modality):
    if modality == "image":
        raise DataError(f"samples of shape {tuple(shape)} are 1-D, not images; give (N, H, W) or (N, C, H, W) "
                        f"arrays for images, or set data.modality to sequence or tabular")
    if modality == "tabular":
        return _layout("tabular", shape, add_channel=False), "each column is a feature (data.modality = tabular)"
    _check_extent(shape[-1:], MIN_LENGTH, "sequence length")
    note = "inputs (N, L) read as 1-channel sequences; set data.modality = tabular to treat columns as features"
    return _layout("sequence", shape, add_channel=True), note if modality == "auto" else "sequence as configured"


def _layout_2d(shape, modality):
    a, b = shape
    if modality == "tabular":
        raise DataError(f"samples of shape {tuple(shape)} are 2-D; tabular rows must be (N, F): "
                        f"reshape or set data.modality to sequence or image")
    looks_like_image = min(a, b) >= _IMAGE_LIKE_SIDE and max(a, b) <= 4 * min(a, b)
    if modality == "image" or (modality == "auto" and looks_like_image):
        _check_extent(shape, MIN_SIDE, "image side")
        note = (f"inputs (N, {a}, {b}) read as 1-channel images; set data.modality = sequence to read them as "
                f"{a}-channel signals" if modality == "auto" else "image as configured")
        return _layout("image", shape, add_channel=True), note
    _check_extent(shape[-1:], MIN_LENGTH, "sequence length")
    note = (f"inputs (N, {a}, {b}) read as {a}-channel sequences of length {b}; set data.modality = image "
            f"to read them as images" if modality == "auto" else "sequence as configured")
    return _layout("sequence", shape, add_channel=False), note


def _layout_3d(shape, modality):
    if modality in ("sequence", "tabular"):
        raise DataError(f"samples of shape {tuple(shape)} are 3-D, so only images fit: (C, H, W) or (H, W, C); "
                        f"set data.modality to image or auto")
    channels_last = shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4)
    grid = shape[:2] if channels_last else shape[1:]
    _check_extent(grid, MIN_SIDE, "image side")
    note = f"inputs read as images with channels {'last' if channels_last else 'first'}"
    return _layout("image", shape, add_channel=False, channels_last=channels_last), note


def _layout(modality: str, shape, add_channel: bool, channels_last: bool = False) -> dict[str, Any]:
    return {"modality": modality, "sample_shape": [int(s) for s in shape], "add_channel": add_channel,
            "channels_last": channels_last}


def _check_extent(extent, minimum: int, what: str) -> None:
    if min(extent) < minimum:
        raise DataError(f"{what} {min(extent)} is too small for an embedder (minimum {minimum}); "
                        f"pad the samples or choose another data.modality")


def apply_layout(x: np.ndarray, layout: dict[str, Any]) -> np.ndarray:
    """x (N, *file sample shape) -> float32 engine layout; one sample without the N axis is accepted."""
    expected = tuple(layout["sample_shape"])
    if tuple(x.shape) == expected:
        x = x[None]
    if tuple(x.shape[1:]) != expected:
        raise DataError(f"inputs have samples of shape {tuple(x.shape[1:])} but the model was trained on "
                        f"{expected}; give an array (N, {', '.join(map(str, expected))})")
    if layout["add_channel"]:
        x = x[:, None]
    elif layout["channels_last"]:
        x = np.moveaxis(x, -1, 1)  # (N, H, W, C) -> (N, C, H, W)
    return np.ascontiguousarray(x, dtype=np.float32)


# -- scaling: one mean/std per channel (per feature for rows), fitted on training samples -------

def fit_scaling(x_train: np.ndarray) -> dict[str, list[float]]:
    """Per-channel mean/std of engine-layout inputs (axis 1), so inputs start near unit scale."""
    axes = tuple(i for i in range(x_train.ndim) if i != 1)
    mean = x_train.mean(axis=axes, dtype=np.float64)
    std = x_train.std(axis=axes, dtype=np.float64)
    std = np.where(std > 1e-12, std, 1.0)  # a constant channel stays constant rather than exploding
    return {"mean": mean.tolist(), "std": std.tolist()}


def apply_scaling(x: np.ndarray, scaling: dict[str, list[float]]) -> np.ndarray:
    shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast per channel: (1, C[, 1, 1])
    mean = np.asarray(scaling["mean"], np.float32).reshape(shape)
    std = np.asarray(scaling["std"], np.float32).reshape(shape)
    return ((x - mean) / std).astype(np.float32)
