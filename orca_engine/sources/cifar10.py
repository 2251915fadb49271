"""CIFAR-10 from the Hugging Face hub (uoft-cs/cifar10 parquet files): ORCA's vision source proxy.

The paper passes 5,000 CIFAR-10 images through Swin's patch embedding. Offline, this fails within
about two seconds (unless the files are already in the local hub cache) and names the offline
stand-in, 'synthetic-images'.
"""
from __future__ import annotations

import importlib.util
import io

import numpy as np

from ..errors import DataError
from ..hub import hub_reachable
from .sampling import balanced_indices

REPO_ID = "uoft-cs/cifar10"
# Test split first: 10,000 images in a 24 MB file cover the usual n; train (120 MB) only beyond that.
SPLIT_FILES = (("plain_text/test-00000-of-00001.parquet", 10_000),
               ("plain_text/train-00000-of-00001.parquet", 50_000))
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
OFFLINE_HINT = "use source proxy 'synthetic-images' (align.source_proxy) for an offline vision proxy"


def cifar10_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """`n` CIFAR-10 images balanced over the 10 classes, deterministic for a seed.

    Returns (images (n, 3, 32, 32) float32 in [0, 1], labels (n,) int64, class names).
    """
    pq = _parquet_module()
    table = _read_tables(pq, _split_paths(n))
    labels = np.asarray(table.column("label").to_numpy(), dtype=np.int64)
    picked = balanced_indices(labels, n, seed, len(CLASS_NAMES))
    images = table.column("img").to_pylist()
    return np.stack([_decode(images[i]) for i in picked]), labels[picked], CLASS_NAMES


def cifar10_readable() -> bool:
    """Whether the parquet reader CIFAR-10 needs (pyarrow) is installed; nothing is imported."""
    return importlib.util.find_spec("pyarrow") is not None


def _parquet_module():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("the 'cifar10' source proxy reads parquet files and needs pyarrow: `pip install pyarrow`; "
                        f"or {OFFLINE_HINT}") from None
    return pq


def _split_paths(n: int) -> list[str]:
    """Local paths of as many CIFAR-10 parquet files as `n` images need (downloaded once, then cached)."""
    paths, available = [], 0
    for filename, count in SPLIT_FILES:
        if available >= n:
            break
        paths.append(_hub_file(filename))
        available += count
    return paths


def _hub_file(filename: str) -> str:
    from huggingface_hub import hf_hub_download

    online = hub_reachable()
    try:
        # Offline, local_files_only answers from the cache at once instead of retrying the network.
        return hf_hub_download(REPO_ID, filename, repo_type="dataset", local_files_only=not online)
    except Exception as e:  # noqa: BLE001 - hub errors vary by version; all mean "not available"
        reason = "the Hugging Face hub is unreachable and it is not in the local cache" if not online else str(e)
        raise DataError(f"cannot get CIFAR-10 ({REPO_ID}/{filename}): {reason}; {OFFLINE_HINT}") from None


def _read_tables(pq, paths: list[str]):
    import pyarrow as pa

    tables = [pq.read_table(p, columns=["img", "label"]) for p in paths]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _decode(cell: dict) -> np.ndarray:
    """A parquet image cell ({"bytes": PNG, ...}) -> (3, 32, 32) float32 in [0, 1]."""
    from PIL import Image

    with Image.open(io.BytesIO(cell["bytes"])) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    return pixels.transpose(2, 0, 1)
