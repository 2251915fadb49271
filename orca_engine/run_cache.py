"""A content-addressed cache of finished runs, so that identical runs are computed once.

A run is deterministic for a given config, data, seed and code, so its events are too (apart
from when each was recorded). `run_key` hashes exactly what identifies a run:

    key = sha256( config without its label, with data.source replaced by the data's fingerprint
                  + the stages run + the projection method drawn + the code version )

- the data fingerprint is the bundled example's name (its builder is code, so the code version
  covers it) or the sha256 of the file's bytes: an upload saved under a new temp path still hits,
  a changed file never does;
- the code version hashes every `orca_engine` source file and the versions of the numerical
  libraries, so any change of code or of torch/numpy/... misses.

`RunCache` keeps one folder per key (`events.jsonl.gz`, `meta.json`) and holds its total size
under `max_bytes`, evicting the least recently used entries first. Writes are atomic (a temp
folder renamed into place), so a reader sees a whole entry or none.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .config import RunConfig
from .run_folder import events_gz_bytes, read_events_gz

PACKAGE = Path(__file__).resolve().parent
LIBRARIES = ("torch", "transformers", "numpy", "scipy", "scikit-learn", "pot", "umap-learn")
KEY_CHARS = set("0123456789abcdef")


@lru_cache(maxsize=1)
def code_version() -> str:
    """16 hex digits naming this engine's code: its source files and the numerical libraries' versions."""
    from importlib import metadata
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    for name in LIBRARIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} absent\0".encode())
    return digest.hexdigest()[:16]


_file_hashes: dict[tuple, str] = {}
_file_lock = threading.Lock()


def data_fingerprint(source: str) -> str:
    """`example:<name>` for a bundled example, else `sha256:<hex>` of the file's bytes (memoised
    per path, size and modification time, so an unchanged file is read once)."""
    from .data.examples import EXAMPLES
    if source in EXAMPLES.names():
        return f"example:{source}"
    path = Path(source).resolve()
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    with _file_lock:
        if memo in _file_hashes:
            return _file_hashes[memo]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    with _file_lock:
        _file_hashes[memo] = f"sha256:{digest.hexdigest()}"
        return _file_hashes[memo]


def run_key(config: RunConfig, stages: Iterable[str], projection_method: str = "pca",
            code: str | None = None) -> str:
    """The hex sha256 naming a run: config (without its `name` label, data by fingerprint),
    stages, projection method and code version (`code`, default `code_version()`)."""
    tree = config.to_dict()
    tree.pop("name", None)
    tree["data"]["source"] = data_fingerprint(config.data.source)
    identity = {"config": tree, "stages": list(stages), "projection": projection_method,
                "code": code or code_version()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def time_dependent(metrics: dict) -> str:
    """Why a finished run's outcome depends on the machine's speed ('' when it does not): a stage
    stopped by a seconds limit could stop elsewhere on another day. Such a run is still cached (the
    class asked for exactly these settings), and its replay says so."""
    for stage, values in metrics.items():
        if isinstance(values, dict) and "max_seconds" in str(values.get("stopped_by", "")):
            return f"{stage} stopped by {values['stopped_by']}"
    return ""


@dataclass(frozen=True)
class CachedRun:
    key: str
    records: list  # the run's event records, as it recorded them
    finished_at: float  # when the original run finished (epoch seconds)
    run_id: str  # the original run's id
    seconds: float  # how long the original run took, first event to last
    note: str = ""  # why a fresh run might differ (a stage stopped by a seconds limit), else ""


class RunCache:
    """Finished runs by key, on disk, at most `max_bytes` in all (least recently used evicted)."""

    def __init__(self, folder: str | Path, max_bytes: int = 100 * 2**20):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def _entry(self, key: str) -> Path:
        if len(key) != 64 or not set(key) <= KEY_CHARS:
            raise ValueError(f"not a run key: {key!r}")
        return self.folder / key

    def get(self, key: str) -> CachedRun | None:
        """The cached run of `key`, or None; a hit counts as a use for eviction."""
        entry = self._entry(key)
        try:
            meta = json.loads((entry / "meta.json").read_text())
            records = read_events_gz(entry / "events.jsonl.gz")
        except (OSError, ValueError, EOFError):
            return None
        now = time.time()
        try:
            os.utime(entry, (now, now))
        except OSError:
            pass
        return CachedRun(key, records, meta["finished_at"], meta["run_id"], meta["seconds"], meta.get("note", ""))

    def put(self, key: str, records: list[dict], run_id: str, note: str = "") -> bool:
        """Store a finished run's records under `key`; False when the entry alone exceeds the bound."""
        entry = self._entry(key)
        data = events_gz_bytes(records, level=6)
        times = [r.get("time", 0.0) for r in records] or [0.0]
        meta = {"run_id": run_id, "finished_at": times[-1], "seconds": round(times[-1] - times[0], 3),
                "events": len(records), "code": code_version(), "note": note}
        if len(data) > self.max_bytes:
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=".put-"))
        try:
            (tmp / "events.jsonl.gz").write_bytes(data)
            (tmp / "meta.json").write_text(json.dumps(meta))
            with self._lock:
                if entry.exists():
                    shutil.rmtree(entry, ignore_errors=True)
                os.replace(tmp, entry)
                self._evict(keep=key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True

    def clear(self) -> None:
        """Forget every cached run (the next identical request computes afresh)."""
        with self._lock:
            for path, _, _ in self._entries():
                shutil.rmtree(path, ignore_errors=True)

    def size_bytes(self) -> int:
        return sum(size for _, _, size in self._entries())

    def keys(self) -> list[str]:
        return [path.name for path, _, _ in self._entries()]

    def _entries(self) -> list[tuple[Path, float, int]]:
        """(folder, last use, bytes) of every entry, least recently used first."""
        found = []
        if not self.folder.is_dir():
            return found
        for path in self.folder.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                size = sum(f.stat().st_size for f in path.iterdir())
                found.append((path, path.stat().st_mtime, size))
            except OSError:
                continue
        return sorted(found, key=lambda e: e[1])

    def _evict(self, keep: str) -> None:
        entries = self._entries()
        total = sum(size for _, _, size in entries)
        for path, _, size in entries:
            if total <= self.max_bytes:
                break
            if path.name != keep:
                shutil.rmtree(path, ignore_errors=True)
                total -= size
