"""Live 2-D frames of source and target features while the embedder aligns.

The stage picks a fixed sample of points once (`sample_indices`), then after each logged step
hands the sample's current features (or a function computing them) to a `ProjectionWorker`. The
worker computes frames in its own thread and keeps only the newest snapshot, so training never
waits for a picture; a slow frame means skipped steps, never a slower run.

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

Modules, each importing only those above it (no circles):

    pca            sample_indices, PcaBasis, fit_pca_basis             numpy only
    umap_layout    umap_layout, snap_to_previous, compile_umap_here    umap-learn imported lazily
    umap_process   the UMAP child's parent side: service(), warm-up and readiness
    umap_child     the child process itself (`python -m orca_engine.projection.umap_child`)
    projector      METHODS, METHOD_NOTES, Projector (one run's frames)
    worker         ProjectionWorker (the thread), rounded, FRAME_INTERVAL_S
"""
from .pca import PcaBasis, fit_pca_basis, sample_indices
from .projector import METHOD_NOTES, METHODS, Projector, check_method
from .umap_layout import compile_umap_here, snap_to_previous, umap_layout
from .umap_process import (UmapUnavailable, is_umap_ready, umap_unavailable_reason,
                           warm_up_umap_in_background)
from .worker import FRAME_INTERVAL_S, ProjectionWorker, rounded

__all__ = ["METHODS", "METHOD_NOTES", "Projector", "ProjectionWorker", "FRAME_INTERVAL_S",
           "PcaBasis", "fit_pca_basis", "sample_indices", "snap_to_previous", "umap_layout",
           "compile_umap_here", "rounded", "check_method", "UmapUnavailable",
           "warm_up_umap_in_background", "is_umap_ready", "umap_unavailable_reason"]
