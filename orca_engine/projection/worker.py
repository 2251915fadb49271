"""The projection thread: draws frames off the training thread and keeps only the newest snapshot.

The stage hands the sample's current features (or a function computing them) to `submit` after
each logged step; the worker draws at most one frame per `FRAME_INTERVAL_S`, so a slow frame means
skipped steps, never a slower run.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..events import ProjectionFrame
from .projector import Projector, check_method

log = logging.getLogger(__name__)


def rounded(xy: np.ndarray, significant: int = 4) -> list:
    """(n, 2) -> nested lists rounded to `significant` digits of the largest coordinate.

    One scale for the whole frame keeps events.jsonl small (about 8 characters a number) while
    every point keeps the same absolute precision.
    """
    xy = np.asarray(xy, dtype=np.float64)
    largest = float(np.abs(xy).max()) if xy.size else 0.0
    if largest == 0.0 or not np.isfinite(largest):
        return xy.tolist()
    decimals = significant - 1 - int(np.floor(np.log10(largest)))
    return np.round(xy, decimals).tolist()


@dataclass
class _Snapshot:
    stage: str
    step: int
    source: np.ndarray
    target: np.ndarray | Callable[[], np.ndarray]
    source_labels: list
    target_labels: list


# Seconds from the start of one frame to the start of the next. The page polls twice a second, so
# PCA frames come at that pace; UMAP frames (0.1-0.3 s each, in the UMAP process) a little faster
# than the one a second the live view promises. More frames would cost the training thread the
# features it computes for each (docs/BENCHMARKS.md, "Alignment slowdown").
FRAME_INTERVAL_S = {"pca": 0.5, "umap": 0.8}


class ProjectionWorker(threading.Thread):
    """Computes projection frames off the training thread and hands each to `emit`.

    `submit` never blocks: it replaces any snapshot not yet started, so when frames are slower
    than steps the worker skips to the newest step. `emit` is called from this thread and must be
    thread-safe. A failing frame is logged and kept in `last_error`; training is never stopped
    by a picture.
    """

    def __init__(self, emit: Callable[[ProjectionFrame], None], method: str = "pca",
                 seed: int = 0, significant: int = 4, min_interval_s: float | None = None,
                 **projector_options: float) -> None:
        super().__init__(name="orca-projection", daemon=True)
        self._emit = emit
        # The page polls twice a second: frames faster than that are never seen, yet each costs
        # CPU that the training thread wants. So draw at most one frame per `min_interval_s`
        # (default: per method, FRAME_INTERVAL_S).
        self.min_interval_s = min_interval_s
        self._next_allowed = 0.0
        self._projector = Projector(method, seed, **projector_options)
        self._significant = significant
        self._changed = threading.Condition()
        self._pending: _Snapshot | None = None
        self._busy = False
        self._stopping = False
        self._method_request: str | None = None
        self.submitted = 0
        self.frames_done = 0
        self.last_error: str | None = None

    def submit(self, stage: str, step: int, source: np.ndarray,
               target: np.ndarray | Callable[[], np.ndarray], source_labels, target_labels) -> None:
        """Queue features source (n_s, d), target (n_t, d) of one step; drops an unstarted one.

        The arrays are copied, so the caller may reuse its buffers at once. `target` may instead be
        a function returning the (n_t, d) array: it is then called in this worker's thread, so the
        training thread only pays for taking a snapshot of what the function needs.
        """
        snapshot = _Snapshot(stage, int(step), np.array(source, dtype=np.float32),
                             target if callable(target) else np.array(target, dtype=np.float32),
                             np.asarray(source_labels).tolist(), np.asarray(target_labels).tolist())
        with self._changed:
            self._pending = snapshot
            self.submitted += 1
            self._changed.notify_all()

    def ready(self) -> bool:
        """Whether a snapshot submitted now would be drawn at once (idle, and the frame interval
        has passed): callers skip computing features that would only be dropped."""
        with self._changed:
            return self._pending is None and not self._busy and time.monotonic() >= self._next_allowed

    def set_method(self, method: str) -> None:
        """Switch view from the next frame on ("pca" or "umap")."""
        check_method(method)
        with self._changed:
            self._method_request = method

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted snapshot is drawn or dropped; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending is None and not self._busy,
                                          timeout)

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Ask the thread to finish (a pending snapshot is discarded); True if it has ended."""
        with self._changed:
            self._stopping = True
            self._pending = None
            self._changed.notify_all()
        if self.is_alive():
            self.join(timeout)
        return not self.is_alive()

    def run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping:
                    if self._pending is None:
                        self._changed.wait()
                        continue
                    delay = self._next_allowed - time.monotonic()
                    if delay <= 0:
                        break
                    self._changed.wait(delay)
                if self._stopping:
                    return
                snapshot, self._pending, self._busy = self._pending, None, True
                if self._method_request is not None:
                    self._projector.method, self._method_request = self._method_request, None
            started = time.monotonic()
            try:
                self._draw(snapshot)
            except Exception as error:  # never let a picture take the run down
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("projection frame at step %d failed: %s", snapshot.step,
                            self.last_error)
            finally:
                interval = (self.min_interval_s if self.min_interval_s is not None
                            else FRAME_INTERVAL_S[self._projector.last_method or self._projector.method])
                self._next_allowed = started + interval
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _draw(self, snapshot: _Snapshot) -> None:
        target = snapshot.target
        if callable(target):
            target = np.asarray(target(), dtype=np.float32)
        source_xy, target_xy = self._projector.project(snapshot.source, target)
        self._emit(ProjectionFrame(
            stage=snapshot.stage, step=snapshot.step, method=self._projector.last_method,
            source_xy=rounded(source_xy, self._significant),
            target_xy=rounded(target_xy, self._significant),
            source_labels=snapshot.source_labels, target_labels=snapshot.target_labels))
        self.frames_done += 1
