"""Live 2-D frames of source and target features while the embedder aligns.

The stage picks a fixed sample of points once (`sample_indices`), then after each logged step
hands the sample's current features (or a function computing them) to a `ProjectionWorker`. The worker computes frames in its own
thread and keeps only the newest snapshot, so training never waits for a picture; a slow frame
means skipped steps, never a slower run.

Two views (`METHODS`; `METHOD_NOTES` says in plain words what each can and cannot show):

- **pca**: one linear basis fitted on the first frame and reused, so axes mean the same thing in
  every frame and motion is real motion along those two directions. ~1 ms a frame.
- **umap**: umap-learn's approximate-neighbour path, initialised from the previous frame and run
  for a few dozen epochs, then snapped onto the previous frame (rotation, reflection, scale,
  shift fitted on the source points) so the picture does not spin or flip between frames.

UMAP layouts run in a child process at a lower CPU priority (`umap_process`): umap-learn's numba
code holds the GIL, and in the training process it slowed alignment down. The child JIT-compiles
umap-learn on first use (15-45 s on two cores). Call `warm_up_umap_in_background()` at start-up;
until the child is ready (or if it fails), a UMAP request is answered with a PCA frame and
`Projector.last_method` says so. Set `NUMBA_CACHE_DIR` to a writable folder so later start-ups
reuse part of the compiled code.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ConfigError
from .events import ProjectionFrame

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("pca", "umap")

METHOD_NOTES: dict[str, str] = {
    "pca": (
        "PCA (linear, fast): shows the two directions along which source and target differed "
        "most at the start. The axes stay fixed for the whole run, so distances along them and "
        "motion between frames are real: a target cloud moving onto the source cloud really got "
        "closer along those directions. It cannot show structure outside those two directions, "
        "so clouds can overlap here and still be apart in the full space."),
    "umap": (
        "UMAP (non-linear): shows which points are neighbours, so clusters and whether target "
        "points mix with source points are visible. Distances between clusters and the size of "
        "a cluster mean little, and axes have no units. Each frame starts from the previous one "
        "and runs briefly, then is turned to match it, so motion between frames is only a rough "
        "guide. Shown as PCA until UMAP has finished compiling (first use takes up to a minute)."),
}

# Warm-up data must exercise the same compiled paths as real frames: pynndescent builds its
# random-projection forest breadth-first above 1 MiB of rows and depth-first below, so a cloud
# of 1,200 x 512 float32 (2.4 MiB) compiles both; a tiny cloud would leave seconds of JIT
# for the first real frame.
_WARMUP_SHAPE = (1200, 512)


def compile_umap_here() -> None:
    """Compile umap-learn in the calling process by laying out a (1200, 512) cloud of 8 clusters
    (the UMAP process does this at start-up; seconds to a minute)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, _WARMUP_SHAPE[1]))
    points = centres[rng.integers(0, 8, _WARMUP_SHAPE[0])] + rng.normal(size=_WARMUP_SHAPE)
    points = points.astype(np.float32)
    umap_layout(points, init=points[:, :2].copy(), n_epochs=10, seed=0)


def warm_up_umap_in_background() -> threading.Thread | None:
    """Start the UMAP process (it compiles umap-learn) in the background; idempotent.

    Returns the thread waiting for it to be ready (join it to wait), or None when UMAP failed
    too often to be tried again (`umap_unavailable_reason` says why).
    """
    from .umap_process import service
    return service().start()


def is_umap_ready() -> bool:
    """True once the UMAP process has compiled umap-learn, so a frame costs well under a second."""
    from .umap_process import service
    return service().ready()


def umap_unavailable_reason() -> str | None:
    """Why UMAP is not available (e.g. umap-learn failed to import, the process died), or None."""
    from .umap_process import service
    return service().failure


def sample_indices(n: int, max_points: int, seed: int) -> np.ndarray:
    """Indices (min(n, max_points),) of a fixed random sample, sorted; reuse them every frame."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


@dataclass(frozen=True)
class PcaBasis:
    """Affine map to 2-D: `xy = (x - mean) @ components`; mean (d,), components (d, 2)."""
    mean: np.ndarray
    components: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, 2)."""
        return (points - self.mean) @ self.components


def fit_pca_basis(points: np.ndarray) -> PcaBasis:
    """Top-2 principal directions of `points` (n, d), signs fixed so refits give the same picture.

    Eigenvectors of the smaller Gram matrix: Xc^T Xc (d, d) when d <= n, else Xc Xc^T (n, n)
    mapped back by v = Xc^T u / sqrt(lambda). LAPACK runs on one thread: on a busy two-core
    machine a multi-threaded eigh of a 384 x 384 matrix took 0.3-3 s against 20 ms on one thread,
    and the projection must not take the training thread's cores. (threadpoolctl's limit is
    process-wide for those ~20 ms.) Each direction's sign makes its largest-magnitude loading
    positive (eigenvector signs are arbitrary).
    """
    from threadpoolctl import threadpool_limits  # lazy: ships with scikit-learn

    mean = points.mean(axis=0)
    centred = points - mean  # (n, d)
    n, d = centred.shape
    with threadpool_limits(limits=1, user_api="blas"):
        if d <= n:
            values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending
        else:
            values, u = np.linalg.eigh(centred @ centred.T)
            vectors = centred.T @ u / np.sqrt(np.maximum(values, 1e-12))
    components = vectors[:, ::-1][:, :2]  # (d, k), largest variance first, k = min(2, n, d)
    components = np.pad(components, ((0, 0), (0, 2 - components.shape[1])))  # (d, 2)
    largest = np.abs(components).argmax(axis=0)
    signs = np.sign(components[largest, [0, 1]])
    components = components * np.where(signs == 0, 1.0, signs)
    return PcaBasis(mean=mean, components=components)


def snap_to_previous(current: np.ndarray, previous: np.ndarray,
                     anchor: slice = slice(None)) -> np.ndarray:
    """Move a layout onto the previous one by the best rotation/reflection, scale and shift.

    Orthogonal Procrustes with scaling (Schoenemann 1966; Gower 1975) fitted on the anchor rows:
    with A = current[anchor] - mean_A and B = previous[anchor] - mean_B, (k, 2) each,
    U S V^T = svd(A^T B), R = U V^T, s = trace(S) / ||A||_F^2, and every row maps to
    s (x - mean_A) R + mean_B. current, previous: (n, 2). Returns (n, 2).
    """
    a, b = current[anchor], previous[anchor]
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    a_centred, b_centred = a - mean_a, b - mean_b
    u, s, vt = np.linalg.svd(a_centred.T @ b_centred)  # (2, 2)
    spread = float((a_centred ** 2).sum())
    if spread == 0.0:  # all anchors on one spot: only the shift is defined
        return current - mean_a + mean_b
    scale = s.sum() / spread
    return scale * (current - mean_a) @ (u @ vt) + mean_b


def umap_layout(points: np.ndarray, init: np.ndarray, n_epochs: int, seed: int,
                n_neighbors: int = 15, learning_rate: float = 1.0) -> np.ndarray:
    """UMAP coordinates (n, 2) of `points` (n, d), started from `init` (n, 2), in init's units.

    umap-learn rescales an init array to a 10-unit box per axis before optimising; the result is
    mapped back through the inverse of that rescale, so a warm-started frame differs from its
    init only by what the optimisation moved (the per-axis stretch alone shifted points by ~18%
    of the picture's radius). Always the approximate (NN-descent) neighbour path: at 2,000
    points it is ~15x faster than the exact one umap-learn picks below 4,096 points. `n_jobs=1`
    because a seeded UMAP is single-threaded anyway (and saying so avoids a warning per frame).
    """
    import umap  # lazy: importing umap costs seconds and starts numba

    init = np.asarray(init, dtype=np.float32)
    low, high = init.min(axis=0), init.max(axis=0)
    if np.any(high - low <= 0):  # a flat axis would make umap-learn divide by zero
        init = init + np.random.default_rng(seed).normal(scale=1e-3, size=init.shape)
        init = init.astype(np.float32)
        low, high = init.min(axis=0), init.max(axis=0)
    model = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(points) - 1),
                      n_epochs=n_epochs, init=init, learning_rate=learning_rate,
                      random_state=seed, n_jobs=1, force_approximation_algorithm=True)
    boxed = model.fit_transform(np.asarray(points, dtype=np.float32)).astype(np.float64)
    return boxed * (high - low) / 10.0 + low


class Projector:
    """2-D frames of one run's fixed sample, with continuity from frame to frame.

    PCA: the basis is fitted once, on the first frame's source and target points stacked. Fitted
    on the source alone it could miss the direction separating the two clouds, and the target
    would look aligned before it is; fitted on the first frame it keeps that direction, so the
    target visibly travels toward the source as alignment proceeds. PCA frames are not snapped:
    the fixed basis already makes them comparable, and snapping would hide real motion.

    UMAP: each frame is fitted on the stacked points, started from the previous frame (or the PCA
    frame the first time, with `first_epochs`), then snapped onto the previous frame using the
    source rows, which do not move in feature space, so only target motion remains visible.
    """

    def __init__(self, method: str = "pca", seed: int = 0, n_epochs: int = 30,
                 first_epochs: int = 100, n_neighbors: int = 15,
                 warm_learning_rate: float = 0.05) -> None:
        self.method = check_method(method)
        self.seed = seed
        self.n_epochs = n_epochs  # per warm-started frame
        self.first_epochs = first_epochs  # for a frame that starts from PCA
        self.n_neighbors = n_neighbors
        # Warm frames start near a good layout: a smaller step than umap-learn's 1.0 keeps
        # unchanged points from jittering (measured at 600 points: source points moved ~6% of
        # the picture's radius a frame at 0.05, ~16% at 1.0) while a target whose
        # neighbourhoods changed still landed on the source within one frame at either rate.
        self.warm_learning_rate = warm_learning_rate
        self.last_method: str | None = None  # what the latest frame really used
        self.last_seconds: float = 0.0
        self._basis: PcaBasis | None = None
        self._previous: np.ndarray | None = None  # (n_s + n_t, 2) latest frame
        self._previous_is_umap = False

    def project(self, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """source (n_s, d), target (n_t, d) -> (source_xy (n_s, 2), target_xy (n_t, 2))."""
        started = time.perf_counter()
        points = np.concatenate([source, target]).astype(np.float64)  # (n_s + n_t, d)
        if self._previous is not None and len(self._previous) != len(points):
            self._previous = None  # a different sample: nothing to be continuous with
        if self._basis is None:
            self._basis = fit_pca_basis(points)
        if self.method == "umap" and not is_umap_ready():
            warm_up_umap_in_background()  # no-op if already under way
        xy = None
        if self.method == "umap" and is_umap_ready() and len(points) > 2:
            from .umap_process import UmapUnavailable
            try:
                xy = self._umap_frame(points, n_source=len(source))
                self.last_method = "umap"
            except UmapUnavailable:  # the process died or hung: PCA now, a fresh process later
                warm_up_umap_in_background()
        if xy is None:
            xy = self._basis.project(points)
            self.last_method = "pca"
        self._previous, self._previous_is_umap = xy, self.last_method == "umap"
        self.last_seconds = time.perf_counter() - started
        return xy[:len(source)], xy[len(source):]

    @staticmethod
    def _layout(points: np.ndarray, **options) -> np.ndarray:
        from .umap_process import service
        return service().layout(points, **options)

    def _umap_frame(self, points: np.ndarray, n_source: int) -> np.ndarray:
        warm = self._previous is not None and self._previous_is_umap
        init = self._previous if self._previous is not None else self._basis.project(points)
        xy = self._layout(points, init=init, seed=self.seed, n_neighbors=self.n_neighbors,
                          n_epochs=self.n_epochs if warm else self.first_epochs,
                          learning_rate=self.warm_learning_rate if warm else 1.0)
        if self._previous is None:
            return xy
        anchor = slice(0, n_source) if n_source >= 3 else slice(None)
        return snap_to_previous(xy, self._previous, anchor)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"projection method {method!r} is not known; use one of {METHODS}")
    return method


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
