"""Data larger than memory: inputs read from disk batch by batch, never loaded whole.

Three sources are read lazily:
- a folder of `.npy` files (`x.npy` + `y.npy`, or `x_train.npy`/`y_train.npy` (+ val, test)),
  memory-mapped;
- an `.npz` whose members are stored uncompressed (`np.savez`, not `savez_compressed`) and whose
  arrays exceed ORCA_MAX_ARRAY_MB: each member is memory-mapped at its offset inside the zip;
- a Hugging Face dataset (Arrow, memory-mapped by `datasets`): `hf:NAME` from the hub, or
  `hf:PATH` of a folder written by `Dataset.save_to_disk`; `hf:NAME@CONFIG` picks a config.

The targets are read into memory (one label per sample is small); the inputs are a `LazyRows`:
an index array into the source plus the layout and scaling, read and standardised per batch.
Splits are index arrays, never copies; the per-channel scaling is fitted in one streaming pass
over the training rows (which also checks every value is finite); the alignment and projection
samples are drawn by index like any batch.

Resident memory: rows of a `.npy` file or a stored `.npz` member are read with positioned reads
(`os.preadv`, consecutive rows in one call) into the batch's own buffer, never through a memory
map. A mapped page counts in the process's RSS once touched, and a kernel with large page-cache
folios maps a whole folio (up to megabytes) around every row touched: reading 200 random rows of a
1 GiB memory-mapped file raised the peak RSS by ~290 MB on this project's machines. Read, the file
stays in the page cache (shared, reclaimable) and the process holds only the batch, so peak RSS stays
near the model's own whatever the file's size (docs/BENCHMARKS.md, "Scaling"). Fortran-ordered
arrays, whose rows are not contiguous on disk, are memory-mapped and their pages released after
every read (`MappedArray`).
"""
from __future__ import annotations

import mmap
import os
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from . import arrays

SCALING_CHUNK_MB = 8  # rows per pass of the streaming statistics (float64 temporaries: ~4x this)
HF_PREFIX = "hf:"
HF_INPUT_COLUMNS = ("x", "inputs", "input", "features", "signal", "image", "pixel_values")
HF_LABEL_COLUMNS = ("label", "labels", "y", "target")


# -- row sources: the file's samples, in the file's layout -----------------------------------------

class FileRows:
    """An array (N, *sample) stored in C order at `offset` of a file, read by row indices with
    positioned reads: nothing is mapped, so nothing but the rows asked for becomes resident."""

    def __init__(self, path: Path, offset: int, shape: tuple, dtype: np.dtype, name: str):
        self.path, self.offset, self.name = Path(path), int(offset), name
        self.shape, self.dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"row index out of range for {self.name} ({len(self)} rows)")
        order = np.argsort(idx, kind="stable")  # ascending reads are sequential on disk
        ordered = idx[order]
        read = np.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
        if self.row_bytes and len(idx):
            buffer = memoryview(read.reshape(-1).view(np.uint8))
            # one read per run of consecutive rows (a repeated row starts a new run)
            starts = np.concatenate(([0], np.flatnonzero(np.diff(ordered) != 1) + 1, [len(idx)]))
            for a, b in zip(starts[:-1], starts[1:]):
                self._read_into(buffer[a * self.row_bytes:b * self.row_bytes],
                                self.offset + int(ordered[a]) * self.row_bytes)
        if np.array_equal(order, np.arange(len(idx))):  # asked in file order (a streaming pass): no scatter
            return read
        out = np.empty_like(read)
        out[order] = read
        return out

    def _read_into(self, view: memoryview, position: int) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        while len(view):
            got = os.preadv(self._fd, [view], position)
            if got <= 0:
                raise DataError(f"{self.name} ended early: the file was changed or truncated while it was read")
            view, position = view[got:], position + got

    def release(self) -> None:
        """Nothing is mapped; close the file (the next read opens it again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __getstate__(self) -> dict:  # a copy sent to another process opens its own descriptor
        return {**self.__dict__, "_fd": None}

    def __del__(self) -> None:
        try:
            self.release()
        except (OSError, TypeError):  # interpreter shutdown
            pass


class MappedArray:
    """A memory-mapped array (N, *sample) read by row indices, releasing pages as it goes: for
    Fortran-ordered files, whose rows are not contiguous (C-ordered ones are `FileRows`)."""

    def __init__(self, array: np.memmap, name: str):
        self.array, self.name = array, name
        self.shape, self.dtype = tuple(array.shape), array.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray) -> np.ndarray:
        order = np.argsort(idx, kind="stable")  # ascending reads are sequential on disk
        out = np.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
        out[order] = self.array[idx[order]]
        # the kernel maps neighbouring pages on each fault (fault-around), so far more than `out` may now
        # be resident: release after every read rather than count bytes
        self.release()
        return out

    def release(self) -> None:
        """Drop this process's mapping of the pages read so far (the page cache keeps them)."""
        handle = getattr(self.array, "_mmap", None)
        if handle is not None and hasattr(handle, "madvise"):
            handle.madvise(mmap.MADV_DONTNEED)


class HFColumn:
    """One column of a Hugging Face `datasets.Dataset`, read by row indices as numpy."""

    def __init__(self, dataset, column: str, name: str):
        self.dataset, self.column, self.name = dataset.with_format("numpy", columns=[column]), column, name
        first = np.asarray(self.dataset[0][column])
        self.shape, self.dtype = (len(dataset), *first.shape), first.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.dataset[np.asarray(idx, dtype=np.int64)][self.column])

    def release(self) -> None:
        pass


class Stacked:
    """Several sources (a file's train/val/test arrays) as one, indexed 0..N-1 in order."""

    def __init__(self, parts: Sequence):
        self.parts = list(parts)
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.shape, self.dtype, self.name = (int(self.starts[-1]), *parts[0].shape[1:]), parts[0].dtype, parts[0].name

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
        which = np.searchsorted(self.starts, idx, side="right") - 1
        for k, part in enumerate(self.parts):
            mask = which == k
            if mask.any():
                out[mask] = part.rows(idx[mask] - self.starts[k])
        return out

    def release(self) -> None:
        for part in self.parts:
            part.release()


# -- the rows a stage sees -----------------------------------------------------------------------------

class LazyRows:
    """Rows `index` of a source, in the engine's layout and standardised: reads like a read-only
    float32 array (`len`, `shape`, `ndim`, `x[i]`, `x[a:b]`, `x[int array]`), loading only what is asked."""

    dtype = np.dtype(np.float32)
    lazy = True

    def __init__(self, source, index: np.ndarray, layout: dict[str, Any], scaling: dict | None):
        self.source, self.index, self.layout, self.scaling = source, np.asarray(index, dtype=np.int64), layout, scaling
        sample = arrays.apply_layout(np.zeros((1, *source.shape[1:]), dtype=np.float32), layout).shape[1:]
        self.shape = (len(self.index), *sample)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * 4

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self._read(self.index[[int(key)]])[0]
        if hasattr(key, "numpy"):  # a torch tensor of indices
            key = key.numpy()
        return self._read(self.index[key])

    def subset(self, positions) -> "LazyRows":
        """Rows `positions` of these rows, still on disk (a split is an index array, not a copy)."""
        return LazyRows(self.source, self.index[np.asarray(positions, dtype=np.int64)], self.layout, self.scaling)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """Every row at once: what a consumer that needs the whole split (a baseline) gets."""
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        x = arrays.apply_layout(self.source.rows(np.atleast_1d(idx)), self.layout)
        return arrays.apply_scaling(x, self.scaling) if self.scaling else x


def is_lazy(x) -> bool:
    return bool(getattr(x, "lazy", False))


# -- finding a lazy source -------------------------------------------------------------------------------

def lazy_parts(source: str) -> tuple[str, dict[str, tuple[Any, np.ndarray]]] | None:
    """(name, {split: (row source, targets)}) when `source` is read lazily (module docstring); else None."""
    if source.startswith(HF_PREFIX):
        return _hf_parts(source[len(HF_PREFIX):])
    path = Path(source).expanduser()
    if path.is_dir():
        return path.name, _folder_parts(path)
    if path.suffix.lower() == ".npz" and path.is_file() and _stored_npz_over_cap(path):
        return path.stem, _npz_parts(path)
    return None


def _folder_parts(folder: Path) -> dict[str, tuple[Any, np.ndarray]]:
    found = {p.stem: p for p in folder.glob("*.npy")}
    if not found:
        raise DataError(f"{folder} is a folder without .npy files: put x.npy and y.npy (or x_train.npy, y_train.npy, "
                        f"...) in it to read them from disk lazily, or zip it (one sub-folder of images per class)")
    mapped = {key: _mapped_npy(path) for key, path in found.items()}
    return _paired(mapped, folder.name)


def _mapped_npy(path: Path) -> FileRows | MappedArray:
    with open(path, "rb") as raw:
        return _rows_at(raw, path, 0, path.name, stored_bytes=path.stat().st_size)


def _stored_npz_over_cap(path: Path) -> bool:
    """True for an .npz of stored (uncompressed) members holding more than ORCA_MAX_ARRAY_MB."""
    from ..limits import limits
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if i.filename.endswith(".npy")]
    except (zipfile.BadZipFile, OSError):
        return False  # the eager reader says what is wrong with it
    stored = bool(infos) and all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    return stored and sum(i.file_size for i in infos) > limits().bytes_of("max_array_mb")


def _npz_parts(path: Path) -> dict[str, tuple[Any, np.ndarray]]:
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        mapped = {i.filename[:-len(".npy")]: _mapped_member(raw, i, path) for i in archive.infolist()
                  if i.filename.endswith(".npy")}
    return _paired(mapped, path.name)


def _mapped_member(raw, info: zipfile.ZipInfo, path: Path) -> FileRows | MappedArray:
    """One stored .npz member: its data starts after the zip's local header and the .npy header."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if local[:4] != b"PK\x03\x04":
        raise DataError(f"{path.name}: member {info.filename} is damaged; save the file again with np.savez")
    start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
    return _rows_at(raw, path, start, info.filename, stored_bytes=info.file_size)


def _rows_at(raw, path: Path, start: int, name: str, stored_bytes: int) -> FileRows | MappedArray:
    """The array whose .npy header begins at `start` of open file `raw` (`stored_bytes` from `start`
    on): header checked against the bytes really there, rows read lazily."""
    raw.seek(start)
    try:
        version = np.lib.format.read_magic(raw)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(raw)
    except ValueError as e:
        raise DataError(f"{path.name}: {name} is not a readable .npy array ({e}); save plain numbers with "
                        f"np.save or np.savez") from None
    data_start = raw.tell()
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if dtype.hasobject:
        raise DataError(f"{path.name}: {name} holds Python objects, which are never loaded; save plain numbers "
                        f"with np.save or np.savez")
    if declared != stored_bytes - (data_start - start):
        raise DataError(f"{path.name}: {name} declares {shape} {dtype} but holds "
                        f"{stored_bytes - (data_start - start)} bytes of data; save plain numbers with np.save "
                        f"or np.savez")
    if len(shape) == 0:
        raise DataError(f"{path.name}: {name} holds a single number, not one row per sample")
    if fortran and len(shape) > 1:
        return MappedArray(np.memmap(path, dtype=dtype, mode="r", offset=data_start, shape=shape, order="F"), name)
    return FileRows(path, data_start, shape, dtype, name)


def _paired(mapped: dict[str, Any], name: str) -> dict[str, tuple[Any, np.ndarray]]:
    """{split: (x source, y in memory)} from arrays named like an .npz's (arrays.pick_arrays' names)."""
    picked = arrays.pick_arrays(mapped, name)
    return {split: (x, _targets_in_memory(y, name)) for split, (x, y) in picked.items()}


def _targets_in_memory(y, name: str) -> np.ndarray:
    if isinstance(y, (FileRows, MappedArray, HFColumn)):
        return np.asarray(y.rows(np.arange(len(y))))
    return np.asarray(y)


def _hf_parts(spec: str) -> tuple[str, dict[str, tuple[Any, np.ndarray]]]:
    try:
        import datasets
    except ImportError:
        raise DataError("hf: sources need Hugging Face datasets: pip install -r requirements-scale.txt "
                        "(or pip install datasets)") from None
    name, _, config = spec.partition("@")
    try:
        loaded = (datasets.load_from_disk(name) if Path(name).expanduser().exists()
                  else datasets.load_dataset(name, config or None))
    except Exception as e:  # noqa: BLE001 - the hub, the network or the folder: say which source failed
        raise DataError(f"hf:{spec} could not be loaded ({type(e).__name__}: {e}); give a dataset name on the hub "
                        f"(where it is reachable) or a folder written by Dataset.save_to_disk") from None
    splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    aliases = {a: split for split, names in arrays.SPLIT_ALIASES.items() for a in names}
    parts = {aliases[k]: v for k, v in splits.items() if k in aliases}
    if "train" not in parts:
        raise DataError(f"hf:{spec} has splits {', '.join(splits)}; a 'train' split is needed")
    columns = parts["train"].column_names
    x_col = next((c for c in HF_INPUT_COLUMNS if c in columns), None)
    y_col = next((c for c in HF_LABEL_COLUMNS if c in columns), None)
    if x_col is None or y_col is None:
        raise DataError(f"hf:{spec} has columns {', '.join(columns)}; the inputs must be in one of "
                        f"{', '.join(HF_INPUT_COLUMNS)} and the targets in one of {', '.join(HF_LABEL_COLUMNS)}")
    label = Path(name).name or name
    if len(parts) == 1:
        ds = parts["train"]
        return label, {"all": (HFColumn(ds, x_col, label), np.asarray(ds.with_format("numpy")[y_col]))}
    return label, {split: (HFColumn(ds, x_col, f"{label}/{split}"), np.asarray(ds.with_format("numpy")[y_col]))
                   for split, ds in parts.items()}


# -- statistics in one streaming pass --------------------------------------------------------------------

def streamed_scaling(source, train_index: np.ndarray, layout: dict[str, Any]) -> dict[str, list[float]]:
    """Per-channel mean/std of the training rows (engine layout) and a finiteness check of every row,
    reading `SCALING_CHUNK_MB` at a time."""
    row_bytes = max(1, int(np.prod(source.shape[1:], dtype=np.int64)) * 4)
    chunk = max(1, (SCALING_CHUNK_MB << 20) // row_bytes)
    is_train = np.zeros(len(source), dtype=bool)
    is_train[train_index] = True
    total = sums = squares = None
    for start in range(0, len(source), chunk):
        idx = np.arange(start, min(len(source), start + chunk))
        x = arrays.apply_layout(source.rows(idx), layout).astype(np.float64)
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(idx[np.argwhere(bad)[0][0]])
            raise DataError(f"{source.name} has NaN or infinite values (first in sample {first}); remove those "
                            f"samples or fill the gaps before loading")
        x = x[is_train[idx]]
        axes = tuple(i for i in range(x.ndim) if i != 1)
        s, q, n = x.sum(axis=axes), (x * x).sum(axis=axes), x.size // max(1, x.shape[1])
        total, sums, squares = ((n, s, q) if total is None else (total + n, sums + s, squares + q))
    source.release()
    mean = sums / max(1, total)
    std = np.sqrt(np.maximum(squares / max(1, total) - mean * mean, 0.0))
    std = np.where(std > 1e-12, std, 1.0)
    return {"mean": mean.tolist(), "std": std.tolist()}
