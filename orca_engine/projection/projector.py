"""One run's 2-D frames with continuity from frame to frame: PCA, or UMAP in the UMAP process.

Two views (`METHODS`; `METHOD_NOTES` says in plain words what each can and cannot show). Until
the UMAP process is ready (or if it fails), a UMAP request is answered with a PCA frame and
`Projector.last_method` says so.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import ConfigError
from . import umap_process
from .pca import PcaBasis, fit_pca_basis
from .umap_layout import snap_to_previous
from .umap_process import UmapUnavailable

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


def check_method(method: str) -> str:
    """`method` if it is one of METHODS, else a ConfigError listing them."""
    if method not in METHODS:
        raise ConfigError(f"projection method {method!r} is not known; use one of {METHODS}")
    return method


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
        if self.method == "umap" and not umap_process.is_umap_ready():
            umap_process.warm_up_umap_in_background()  # no-op if already under way
        xy = None
        if self.method == "umap" and umap_process.is_umap_ready() and len(points) > 2:
            try:
                xy = self._umap_frame(points, n_source=len(source))
                self.last_method = "umap"
            except UmapUnavailable:  # the process died or hung: PCA now, a fresh process later
                umap_process.warm_up_umap_in_background()
        if xy is None:
            xy = self._basis.project(points)
            self.last_method = "pca"
        self._previous, self._previous_is_umap = xy, self.last_method == "umap"
        self.last_seconds = time.perf_counter() - started
        return xy[:len(source)], xy[len(source):]

    @staticmethod
    def _layout(points: np.ndarray, **options) -> np.ndarray:
        return umap_process.service().layout(points, **options)

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


