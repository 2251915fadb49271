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

Resident memory: pages of a memory-mapped file count in a process's RSS once touched (and the
kernel maps their neighbours too), so after every read a `MappedArray` tells the kernel it no
longer needs them (`madvise(MADV_DONTNEED)`; they stay in the page cache). Peak RSS then stays near the model's
own, whatever the file's size (docs/BENCHMARKS.md, "Scaling").
"""
from __future__ import annotations

import mmap
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

class MappedArray:
    """A memory-mapped array (N, *sample) read by row indices, releasing pages as it goes."""

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


def _mapped_npy(path: Path) -> MappedArray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise DataError(f"{path.name} cannot be memory-mapped ({e}); save plain numbers with np.save") from None
    return MappedArray(array, path.name)


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


def _mapped_member(raw, info: zipfile.ZipInfo, path: Path) -> MappedArray:
    """Memory-map one stored .npz member: its data starts after the zip's local header and the .npy header."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if local[:4] != b"PK\x03\x04":
        raise DataError(f"{path.name}: member {info.filename} is damaged; save the file again with np.savez")
    start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
    raw.seek(start)
    try:
        version = np.lib.format.read_magic(raw)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(raw)
    except ValueError as e:
        raise DataError(f"{path.name}: member {info.filename} is not a readable .npy array ({e}); save the file "
                        f"again with np.savez") from None
    data_start = raw.tell()
    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if dtype.hasobject or declared != info.file_size - (data_start - start):
        raise DataError(f"{path.name}: member {info.filename} declares {shape} {dtype} but holds "
                        f"{info.file_size - (data_start - start)} bytes of data; save plain numbers with np.savez")
    array = np.memmap(path, dtype=dtype, mode="r", offset=data_start, shape=shape, order="F" if fortran else "C")
    return MappedArray(array, info.filename)


def _paired(mapped: dict[str, Any], name: str) -> dict[str, tuple[Any, np.ndarray]]:
    """{split: (x source, y in memory)} from arrays named like an .npz's (arrays.pick_arrays' names)."""
    picked = arrays.pick_arrays(mapped, name)
    return {split: (x, _targets_in_memory(y, name)) for split, (x, y) in picked.items()}


def _targets_in_memory(y, name: str) -> np.ndarray:
    if isinstance(y, (MappedArray, HFColumn)):
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
