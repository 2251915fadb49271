"""Which run folders a public server may delete: the oldest beyond a bound, never a present owner's latest."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Iterable


class FolderRetention:
    """Bounds the run folders under `runs_dir` to `keep` (None: keep every folder, as the CLI does).

    The folders of an owner's latest `keep_per_owner` runs are never deleted while the owner is
    present, nor for `retain_s` seconds after they leave, so one visitor's many starts cannot push
    out another visitor's run.
    """

    def __init__(self, runs_dir: Path, keep: int | None, keep_per_owner: int = 3, retain_s: float = 0.0):
        self.runs_dir, self.keep, self.keep_per_owner, self.retain_s = runs_dir, keep, keep_per_owner, retain_s
        self._owned: dict[str, list[Path]] = {}  # owner -> their latest run folders, oldest first
        self._departed: dict[str, float] = {}  # owner -> when they left
        self._lock = threading.Lock()

    def started(self, owner: str, folder: Path) -> None:
        """`owner` started a run in `folder`: it is among their latest."""
        with self._lock:
            self._owned.setdefault(owner, []).append(folder)
            del self._owned[owner][:-self.keep_per_owner]
            self._departed.pop(owner, None)

    def owner_present(self, owner: str) -> None:
        with self._lock:
            self._departed.pop(owner, None)

    def owner_left(self, owner: str) -> None:
        with self._lock:
            if owner in self._owned:
                self._departed[owner] = time.time()

    def prune(self, live: Iterable[Path]) -> None:
        """Delete the oldest folders (and their zips) so one more fits within `keep`; never one of
        `live` (runs the session holds) nor a protected owner's."""
        if self.keep is None or not self.runs_dir.is_dir():
            return
        protected = self._protected(live)
        folders = sorted((p for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime)  # hidden folders (.cache, .shares) are not runs
        for old in folders[:max(0, len(folders) - self.keep + 1)]:
            if old.resolve() not in protected:
                shutil.rmtree(old, ignore_errors=True)
                old.with_suffix(".zip").unlink(missing_ok=True)

    def _protected(self, live: Iterable[Path]) -> set[Path]:
        now = time.time()
        with self._lock:
            for owner, left in list(self._departed.items()):
                if now - left > self.retain_s:
                    del self._departed[owner]
                    self._owned.pop(owner, None)
            keep = [p for paths in self._owned.values() for p in paths]
        return {p.resolve() for p in [*keep, *live]}
