"""What the stages of one run share: its config, data, model, control and accumulated record."""
from __future__ import annotations

import contextlib
import gc
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..config import RunConfig
from ..contracts import BuildInfo, SourceFeatures
from ..errors import RunCancelled
from ..run_folder import RunFolder

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..data import Dataset
    from ..model import OrcaEnsemble, OrcaModel


class RunControl:
    """Cooperative pause / single-step / cancel, checked by stages between optimisation steps.

    The worker thread calls `checkpoint()` before each step; the UI thread calls the others.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._cancelled = False
        self._step_tokens = 0

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _signal(self, paused: bool | None = None, cancel: bool = False, steps: int = 0) -> None:
        with self._cond:
            self._paused = self._paused if paused is None else paused
            self._cancelled = self._cancelled or cancel
            self._step_tokens += steps
            self._cond.notify_all()

    def pause(self) -> None:
        self._signal(paused=True)

    def resume(self) -> None:
        self._signal(paused=False)

    def step(self) -> None:
        """Let exactly one more step run while paused (pauses first if running)."""
        self._signal(paused=True, steps=1)

    def cancel(self) -> None:
        self._signal(cancel=True)

    def check_cancelled(self) -> None:
        """Raise RunCancelled if cancelled; never blocks (a pause holds at the next `checkpoint`)."""
        if self._cancelled:
            raise RunCancelled("the run was cancelled")

    def checkpoint(self) -> None:
        """Block while paused (unless a single step was granted); raise RunCancelled if cancelled."""
        with self._cond:
            while True:
                if self._cancelled:
                    raise RunCancelled("the run was cancelled")
                if not self._paused:
                    return
                if self._step_tokens > 0:
                    self._step_tokens -= 1
                    return
                self._cond.wait(timeout=0.5)


# (stage, step, source xy-features, target features or a function returning them, source labels,
# target labels): the live projection's sink (orca_engine.projection.ProjectionWorker.submit)
FeatureHook = Callable[[str, int, Any, Any, Any, Any], None]


@dataclass
class RunContext:
    """Mutable state of one run, passed to every stage. Stages fill it in order:
    prepare -> dataset, backbone, model, source, objective; align -> aligned embedder;
    refine -> refined model; evaluate -> test metrics and artifacts."""
    config: RunConfig
    run_dir: Path
    control: RunControl = field(default_factory=RunControl)
    on_features: FeatureHook | None = None  # live projection sink (set by the session)
    features_wanted: Callable[[], bool] | None = None  # False while the sink is busy: skip the work
    cache_dir: Path | None = None
    parallel: Any = None  # distributed.Parallel of a multi-process launch; None = this process alone
    device: torch.device | None = None
    dataset: Dataset | None = None
    model: OrcaModel | OrcaEnsemble | None = None
    source: SourceFeatures | None = None
    target_labels: np.ndarray | None = None  # class ids (or k-means pseudo-labels) of the training split (N,)
    build_info: BuildInfo | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # becomes metrics.json
    stages_done: list[str] = field(default_factory=list)

    @property
    def folder(self) -> RunFolder:
        """The run's folder: the one way stages write files."""
        return RunFolder(self.run_dir)

    # The fields that live only in the process that owns the run: its control and live-view hooks.
    _LOCAL = ("control", "on_features", "features_wanted")

    def __getstate__(self) -> dict:
        """What crosses to a ZeroGPU worker (orca_engine.zerogpu): everything but the local fields."""
        return {k: v for k, v in self.__dict__.items() if k not in self._LOCAL}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.control, self.on_features, self.features_wanted = RunControl(), None, None

    def adopt(self, other: "RunContext") -> None:
        """Take over what a stage changed in `other` (a copy that ran elsewhere), keeping this
        context's control, hooks, config and run folder."""
        keep = set(self._LOCAL) | {"config", "run_dir"}
        for key, value in other.__getstate__().items():
            if key not in keep:
                setattr(self, key, value)

    _collected: bool = field(default=False, init=False, repr=False)  # a release collected and nothing was held since

    def release(self) -> None:
        """Drop every large object so the memory of a finished or cancelled run is returned.

        The full garbage collection this takes (most of a second in a server with torch and
        transformers loaded, holding the GIL) is skipped when there is nothing to free: a run
        cancelled while queued never held anything, and a run's second release (the worker ends
        it, then the session drops it) finds the first one already collected. A visitor who
        clicks start and stop in a loop thus costs the server no collection per click."""
        held = any(x is not None for x in (self.model, self.dataset, self.source, self.target_labels))
        self.model = self.dataset = self.source = self.target_labels = None
        if not held and (self._collected or self.device is None):  # device: set when `prepare` begins
            return
        gc.collect()
        self._collected = True
        _return_freed_memory_to_the_os()
        try:
            import torch
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def _return_freed_memory_to_the_os() -> None:
    """glibc keeps freed blocks of a released model in its heaps; without a trim a server's RSS crept
    up by ~100 MB over its first hundred short runs (no Python objects leaked: tracemalloc showed
    ~100 KiB). A no-op where glibc is absent."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def single_cpu_thread(device: Any):
    """Run a block on one intra-op CPU thread (restored afterwards).

    The alignment objective is many small element-wise passes (Sinkhorn updates) beside a live
    projection thread: a second OpenMP thread buys little there and, on a busy 2-core machine,
    spinning threads made one objective call 10-100x slower (docs/BENCHMARKS.md).
    """
    import torch
    if getattr(device, "type", "cpu") != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

