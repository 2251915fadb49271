"""One run as the Session holds it in memory (`LiveRun`), and the snapshot the UI reads of it (`RunStatus`)."""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator

from .config import RunConfig
from .contracts import RunState
from .events import Event, Recorded, StageStarted, StepLogged, TrialFinished
from .run_folder import RunFolder

if TYPE_CHECKING:
    from .projection import ProjectionWorker
    from .stages import RunContext


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    owner: str
    name: str
    state: RunState
    stage: str
    step: int
    total: int
    queue_position: int  # 1-based while queued, else 0
    elapsed_s: float
    eta_s: float | None
    error: str
    run_dir: str
    stages_done: tuple[str, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return RunState(self.state).active


class LiveRun:
    """Book-keeping of one run; mutated by its worker thread under `lock`."""

    def __init__(self, config: RunConfig, folder: RunFolder, ctx: RunContext, owner: str,
                 public_config: RunConfig, projection_method: str):
        self.id, self.owner, self.config, self.folder, self.ctx = folder.name, owner, config, folder, ctx
        self.run_dir = folder.path
        self.lock = threading.Lock()
        self.records: list[Recorded] = []
        self.log = folder.event_log()
        self.state, self.stage, self.step, self.total = RunState.QUEUED, "", 0, 0
        self.error = ""
        self.created = time.time()
        self.stage_started = time.time()
        self.thread: threading.Thread | None = None
        self.ended = False  # the worker thread has finished (guarded by the session's condition)
        self.discard_when_done = False
        self.projector: ProjectionWorker | None = None
        self.projection_method = projection_method
        self.public_config = public_config  # what config.json and the command line show (the visitor's file name)
        self.write_error = ""  # the first failed write of events.jsonl (e.g. a full disk)
        self.stop_reason = ""  # why the session stopped it (a time limit), shown as its error

    def record(self, event: Event) -> None:
        """Keep the event in memory, then append it to events.jsonl. Never raises: a failed write is
        remembered in `write_error` (the worker then fails the run), so the error path itself can
        always record its terminal event."""
        with self.lock:
            recorded = Recorded(len(self.records), round(time.time(), 3), event)
            self.records.append(recorded)
            if isinstance(event, StageStarted):
                self.stage, self.step, self.total = event.stage, 0, event.total_steps
                self.stage_started = time.time()
            elif isinstance(event, StepLogged):
                self.step, self.total = event.step, event.total
            elif isinstance(event, TrialFinished):  # a tune stage's progress is counted in trials
                self.step, self.total = event.trial, event.total
        try:
            self.log.append(recorded.to_dict())
        except OSError as err:
            self.write_error = self.write_error or f"{err.strerror or err}"

    def since(self, index: int) -> list[Recorded]:
        with self.lock:
            return self.records[index:]

    @property
    def worker_alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def status(self, queue_position: int) -> RunStatus:
        state = self.state
        if state in (RunState.RUNNING, RunState.QUEUED) and self.ctx.control.paused:
            state = RunState.PAUSED  # queued and paused: it will hold before its first step
        elapsed = time.time() - self.stage_started
        watching = state in (RunState.RUNNING, RunState.PAUSED)
        eta = (elapsed / self.step * (self.total - self.step)) if self.step and watching else None
        return RunStatus(self.id, self.owner, self.config.name or self.id, state, self.stage, self.step,
                         self.total, queue_position, round(time.time() - self.created, 1), eta, self.error,
                         str(self.run_dir), tuple(self.ctx.stages_done), dict(self.ctx.metrics))

    # -- around each stage: its name in the status, and the live projection during align ----------
    def stage_scope(self, live_projection: bool) -> Callable[[str], ContextManager[None]]:
        """For `run_stages(around=...)`: names the stage in the run's status; during align, runs the
        live projection worker (when `live_projection`), flushing its last frame and stopping it."""
        @contextlib.contextmanager
        def scope(name: str) -> Iterator[None]:
            self.stage = name
            if name != "align":
                yield
                return
            self._start_projection(live_projection)
            try:
                yield
                self._flush_projection()
            finally:
                self._stop_projection()
        return scope

    def _start_projection(self, live_projection: bool) -> None:
        if not live_projection:
            self.ctx.on_features = self.ctx.features_wanted = None
            return
        from .projection import ProjectionWorker
        self.projector = ProjectionWorker(emit=self.record, method=self.projection_method, seed=self.config.seed)
        self.projector.start()
        self.ctx.on_features = self.projector.submit
        self.ctx.features_wanted = self.projector.ready

    def _flush_projection(self) -> None:
        """Let the worker draw the last submitted snapshot, so the final frame shows the final state."""
        if self.projector is not None:
            self.projector.wait_idle(timeout=10.0)

    def _stop_projection(self) -> None:
        if self.projector is not None:
            self.projector.stop(timeout=10.0)
            self.projector = None
        self.ctx.on_features = self.ctx.features_wanted = None
