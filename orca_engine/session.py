"""The engine's one door: start runs in worker threads, read their events, steer them.

    session = Session(runs_dir="runs", max_active=1)
    run_id = session.start({"data": {"source": "digits"}}, stages=("align",), owner=visitor)
    session.events(run_id, since=0)          # new event records (dicts) since index 0
    session.records(run_id, since=0)         # the same, typed: Recorded(index, time, event)
    session.pause(run_id); session.step(run_id); session.resume(run_id); session.cancel(run_id)
    session.continue_run(run_id, stages=("refine", "evaluate"), overrides={"refine.epochs": 3})

The app imports nothing of the engine but this module, `config` and `errors`
(tests/test_layering.py): what it needs outside a run (examples, backbones, file formats, a
file's inspection, recorded events, the projection's readiness) is re-exported from `catalog`.

One worker thread per run; at most `max_active` runs compute at once, the rest wait in a visible
FIFO queue. Events are kept in memory and appended to the run's `events.jsonl`. A run's model
stays in memory after its stages (so refinement can follow alignment, and predictions are fast)
until released; only the `keep_models` most recent runs keep theirs.

A run never holds a file open between events, and reaches a terminal state in memory even when
its files cannot be written (a full disk): then it fails with a message saying so. `discard`
drops a run from the table once its worker has ended (a visitor who starts a new run frees the
old one). A public server bounds its disk with `keep_run_folders`; the folders of a present
owner's latest runs (`keep_per_owner`) are never deleted, nor for `retain_s` after they leave.
"""
from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from .catalog import (DATA_SUFFIXES, BackboneChoice, ProjectionStatus, RunComparison, backbone_choice, backbone_choices,
                      compare_runs, events_from_file, events_on_disk, example_choices, inspect_file, is_example,
                      lesson_names, load_dataset, load_lesson, projection_notes, projection_status,
                      warm_up_projection)
from .config import RunConfig
from .contracts import ACTIVE_STATES, TERMINAL_STATES, BuildInfo, RunState
from .errors import OrcaError, RunCancelled, RunError
from .events import Event, Recorded, RunCancelledEvent, RunFailed, RunFinished, RunStarted, StateChanged, WarningRaised
from .live_run import LiveRun, RunStatus
from .retention import FolderRetention
from .run_folder import FINISHED_RUN_FILES, STARTED_RUN_FILES, RunFolder, events_gz_bytes, read_events_gz

if TYPE_CHECKING:
    from .data import Dataset

__all__ = ["Session", "RunStatus", "RunState", "ACTIVE_STATES", "TERMINAL_STATES", "Recorded", "BuildInfo",
           "DATA_SUFFIXES", "BackboneChoice", "ProjectionStatus", "RunComparison", "backbone_choice", "backbone_choices",
           "compare_runs", "events_from_file", "events_on_disk", "example_choices", "inspect_file", "is_example",
           "lesson_names", "load_dataset", "load_lesson", "projection_notes", "projection_status",
           "warm_up_projection", "planned_refine_steps", "shared_runs", "events_gz_bytes", "read_events_gz"]


def planned_refine_steps(config: RunConfig, n_train: int, task: str = "classification") -> int:
    """Optimiser steps a run's refine stage will take on `n_train` training samples of a `task`
    (its budget, every ensemble member's steps included)."""
    from .stages.budget import refine_budget
    return refine_budget(config.refine, n_train, n_val=0, task=task).all_steps


class Session:
    def __init__(self, runs_dir: str | Path = "runs", max_active: int = 1, keep_models: int = 4,
                 cache_dir: str | Path | None = None, live_projection: bool = True,
                 projection_method: str = "pca", keep_run_folders: int | None = None,
                 keep_per_owner: int = 3, retain_s: float = 0.0, time_limit_s: float | None = None,
                 time_limit_message: str = "stopped: the time limit of {seconds:g} s for one run was reached"):
        self.runs_dir = Path(runs_dir)
        self.max_active = max_active
        self.keep_models = keep_models
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.live_projection = live_projection
        self.projection_method = projection_method  # for new runs; set_projection_method changes one run
        # None keeps every folder; a public server bounds its disk, but never prunes a present owner's
        # latest `keep_per_owner` run folders, nor for `retain_s` after they left (`owner_left`)
        self.retention = FolderRetention(self.runs_dir, keep_run_folders, keep_per_owner, retain_s)
        self.time_limit_s = time_limit_s  # wall-clock limit of one launch (None: no limit, the CLI)
        self.time_limit_message = time_limit_message
        self._runs: dict[str, LiveRun] = {}
        self._waiting: list[str] = []  # FIFO of run ids waiting for a compute slot
        self._active = 0
        self._cond = threading.Condition()
        self._end_listeners: list = []  # fn(run_id, state) after each launch's worker ends (the run cache)

    # -- starting -------------------------------------------------------------------------------
    def start(self, config: RunConfig | dict, stages: Iterable[str] = ("align", "refine", "evaluate"),
              owner: str = "", projection_method: str | None = None, source_name: str | None = None) -> str:
        """Queue a new run; returns its id. `projection_method` ("pca" / "umap") overrides the
        session's default view for this run's live frames. `source_name` is the data file's name
        as the person who started the run knows it: the run's files record it instead of the
        server's path of the file."""
        from .stages import RunContext
        config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
        stages = self._checked_stages(stages)
        public = config.with_overrides({"data.source": source_name}) if source_name else config
        name = config.name or f"{Path(public.data.source).stem}-{config.model.backbone}"
        method = self.projection_method
        if projection_method is not None:
            from .projection import check_method
            method = check_method(projection_method)
        self.retention.prune(live=self._live_folders())
        try:
            folder = RunFolder.create(self.runs_dir, name)
            folder.write_config(public)
        except OSError as err:
            raise RunError(f"cannot create the run folder in {self.runs_dir}: {err.strerror or err}") from None
        ctx = RunContext(config=config, run_dir=folder.path, cache_dir=self.cache_dir)
        run = LiveRun(config, folder, ctx, owner, public_config=public, projection_method=method)
        with self._cond:
            self._runs[run.id] = run
        self.retention.started(owner, folder.path)
        run.record(RunStarted(run.id, str(folder.path), public.to_dict()))
        self._launch(run, stages)
        return run.id

    def continue_run(self, run_id: str, stages: Iterable[str] = ("refine", "evaluate"),
                     overrides: dict[str, Any] | None = None, owner: str | None = None) -> None:
        """Run further stages on the run's in-memory model (e.g. refine after watching alignment)."""
        run = self._get(run_id, owner)
        if run.state != RunState.IDLE:
            raise RunError(f"run {run_id} is {run.state}; only a run that finished its stages and still holds "
                           "its model can continue (start a new run otherwise)")
        stages = self._checked_stages(stages)
        run.ctx.control.resume()  # a pause that came as the last stage ended must not carry into the next
        if overrides:
            config = run.config.with_overrides(overrides)
            run.config = run.ctx.config = config
            run.public_config = run.public_config.with_overrides(overrides)
            try:
                run.folder.write_config(run.public_config)
            except OSError as err:
                raise RunError(f"cannot write the run's config.json: {err.strerror or err}") from None
        self._launch(run, stages)

    def _live_folders(self) -> list[Path]:
        """Folders of runs this session holds (active, or keeping a model): never pruned."""
        with self._cond:
            return [r.run_dir for r in self._runs.values() if r.state in ACTIVE_STATES or r.ctx.model is not None]

    def owner_present(self, owner: str) -> None:
        """`owner` is (back) on the page: their latest run folders are kept."""
        self.retention.owner_present(owner)

    def owner_left(self, owner: str) -> None:
        """`owner` closed their page: their folders may be pruned `retain_s` seconds from now."""
        self.retention.owner_left(owner)

    def _checked_stages(self, stages: Iterable[str]) -> tuple[str, ...]:
        from .stages import USER_STAGES
        stages = tuple(stages)
        bad = [s for s in stages if s not in USER_STAGES]
        if bad or not stages:
            raise RunError(f"unknown stage(s) {bad or '(none given)'}; choose from {', '.join(USER_STAGES)}")
        return stages

    def _launch(self, run: LiveRun, stages: tuple[str, ...]) -> None:
        run.state, run.error = RunState.QUEUED, ""
        with self._cond:
            self._waiting.append(run.id)
        run.thread = threading.Thread(target=self._work, args=(run, stages), name=f"orca-run-{run.id}", daemon=True)
        run.thread.start()

    # -- the worker -----------------------------------------------------------------------------
    def _work(self, run: LiveRun, stages: tuple[str, ...]) -> None:
        from .stages import run_stages
        from .zerogpu import run_stage
        try:
            self._wait_for_slot(run)
        except RunCancelled:
            self._end(run, RunState.CANCELLED, RunCancelledEvent(RunState.QUEUED))
            self._worker_ended(run, held_slot=False)
            return
        limit = self._start_time_limit(run)
        try:
            run.state = RunState.RUNNING
            self._record_or_fail(run, StateChanged(RunState.RUNNING))
            todo = stages if run.ctx.stages_done else ("prepare",) + stages
            # each stage through zerogpu.run_stage: on a ZeroGPU Space it runs on a GPU worker
            on_gpu = {name: (lambda ctx, name=name: run_stage(name, ctx)) for name in todo}
            run_stages(run.ctx, todo, lambda event: self._record_or_fail(run, event),
                       around=run.stage_scope(self.live_projection), replace=on_gpu)
            if "evaluate" in run.ctx.stages_done:
                self._end(run, RunState.FINISHED, RunFinished(metrics=run.ctx.metrics.get("test", {})),
                          keep_model=True)
            else:
                self._end(run, RunState.IDLE, StateChanged(RunState.IDLE, detail="stages done; the model stays in "
                                                                                 "memory"), keep_model=True)
        except RunCancelled:
            self._end(run, RunState.CANCELLED, RunCancelledEvent(run.stage))
        except OrcaError as e:
            self._end(run, RunState.FAILED, RunFailed(type(e).__name__, str(e)))
        except OSError as e:  # a full disk, a removed folder: the run cannot go on, the server can
            self._end(run, RunState.FAILED, RunFailed("RunError", _write_failure(e.strerror or str(e))))
        except Exception as e:  # noqa: BLE001 - a bug must fail this run, never the server
            logged = run.folder.write_error_log(traceback.format_exc())
            detail = " (details in error.log)" if logged else ""
            self._end(run, RunState.FAILED, RunFailed("InternalError", f"{type(e).__name__}: {e}{detail}"))
        finally:
            if limit is not None:
                limit.cancel()
            if run.state in ACTIVE_STATES:  # only if the error path itself broke: still end the run
                run.state, run.error = RunState.FAILED, run.error or "the run stopped unexpectedly"
            self._worker_ended(run, held_slot=True)

    def _record_or_fail(self, run: LiveRun, event: Event) -> None:
        run.record(event)
        if run.write_error:
            raise RunError(_write_failure(run.write_error))

    def _worker_ended(self, run: LiveRun, held_slot: bool) -> None:
        with self._cond:
            if held_slot:
                self._active -= 1
            run.ended = True
            discard = run.discard_when_done
            self._cond.notify_all()
        for listener in list(self._end_listeners):
            try:
                listener(run.id, run.state)
            except Exception:  # noqa: BLE001 - a listener (e.g. a full cache disk) never fails the run
                pass
        if discard:
            self._drop(run)

    def add_end_listener(self, listener) -> None:
        """Call `listener(run_id, state)` from the worker thread each time a launch of a run ends
        (finished, idle, failed or cancelled), before a discarded run is dropped."""
        self._end_listeners.append(listener)

    def hand_over(self, run_id: str, owner: str, new_owner: str) -> None:
        """Make `new_owner` the owner of `owner`'s run (a shared run whose starter left while
        others still watch it)."""
        run = self._get(run_id, owner)
        with self._cond:
            run.owner = new_owner
        self.retention.started(new_owner, run.run_dir)

    def _wait_for_slot(self, run: LiveRun) -> None:
        with self._cond:
            while True:
                if run.ctx.control.cancelled:
                    self._waiting.remove(run.id)
                    self._cond.notify_all()
                    raise RunCancelled("cancelled while queued")
                if self._waiting[0] == run.id and self._active < self.max_active:
                    self._waiting.pop(0)
                    self._active += 1
                    self._cond.notify_all()
                    return
                self._cond.wait(timeout=0.5)

    def _end(self, run: LiveRun, state: RunState, event: Event, keep_model: bool = False) -> None:
        """Put the run in its terminal (or idle) state: in memory first, so nothing that fails on
        disk here can leave it 'running'."""
        if state in (RunState.FINISHED, RunState.IDLE) and run.write_error:
            state, keep_model = RunState.FAILED, False
            event = RunFailed("RunError", _write_failure(run.write_error))
        if state == RunState.FINISHED and run.ctx.metrics:
            try:
                run.folder.write_metrics(run.ctx.metrics)
            except OSError as err:
                state, keep_model = RunState.FAILED, False
                event = RunFailed("RunError", _write_failure(err.strerror or str(err)))
        if state == RunState.CANCELLED and run.stop_reason:
            run.error = run.stop_reason
        else:
            run.error = getattr(event, "message", "") if state == RunState.FAILED else ""
        run.state = state
        run.record(event)
        try:
            if keep_model:
                self._evict_models(keep=run.id)
            else:
                run.ctx.release()
        except Exception:  # noqa: BLE001 - freeing memory must not undo the terminal state
            pass

    def _start_time_limit(self, run: LiveRun) -> threading.Timer | None:
        if not self.time_limit_s:
            return None
        timer = threading.Timer(self.time_limit_s, self._time_out, (run,))
        timer.daemon = True
        timer.start()
        return timer

    def _time_out(self, run: LiveRun) -> None:
        """The run used its wall-clock allowance: say so in its events, then cancel it."""
        if run.state not in ACTIVE_STATES or run.ctx.control.cancelled:
            return
        run.stop_reason = self.time_limit_message.format(seconds=self.time_limit_s)
        run.record(WarningRaised(run.stage or "run", run.stop_reason))
        run.ctx.control.cancel()
        run.ctx.control.resume()  # a paused run must reach its next checkpoint to stop

    def _evict_models(self, keep: str) -> None:
        holding = [r for r in self._runs.values()
                   if r.ctx.model is not None and r.state in (RunState.IDLE, RunState.FINISHED)]
        holding.sort(key=lambda r: r.created)
        for r in holding[:max(0, len(holding) - self.keep_models)]:
            if r.id != keep:
                r.ctx.release()

    # -- live projection ----------------------------------------------------------------------
    def set_projection_method(self, run_id: str, method: str, owner: str | None = None) -> None:
        from .projection import METHODS
        if method not in METHODS:
            raise RunError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
        run = self._get(run_id, owner)
        run.projection_method = method
        if run.projector is not None:
            run.projector.set_method(method)

    # -- reading ------------------------------------------------------------------------------
    def _get(self, run_id: str, owner: str | None = None) -> LiveRun:
        run = self._runs.get(run_id)
        if run is None:
            raise RunError(f"no run {run_id!r} in this session (it may have been released)")
        if owner is not None and run.owner != owner:
            raise RunError("that run belongs to another visitor")
        return run

    def records(self, run_id: str, since: int = 0, owner: str | None = None) -> list[Recorded]:
        """The run's typed event records from index `since` on."""
        return self._get(run_id, owner).since(since)

    def events(self, run_id: str, since: int = 0, owner: str | None = None) -> list[dict[str, Any]]:
        """The same records serialised as events.jsonl holds them ({"index", "time", "type", ...})."""
        return [r.to_dict() for r in self.records(run_id, since, owner)]

    def status(self, run_id: str, owner: str | None = None) -> RunStatus:
        run = self._get(run_id, owner)
        with self._cond:
            position = self._waiting.index(run.id) + 1 if run.id in self._waiting else 0
        return run.status(position)

    def runs(self, owner: str | None = None) -> list[RunStatus]:
        ids = [r.id for r in self._runs.values() if owner is None or r.owner == owner]
        return [self.status(i) for i in ids]

    def wait(self, run_id: str, timeout: float | None = None) -> RunStatus:
        """Block until the run leaves the queued/running/paused states (or `timeout` seconds pass)."""
        run = self._get(run_id)
        deadline = None if timeout is None else time.time() + timeout
        while run.worker_alive:
            remaining = None if deadline is None else deadline - time.time()
            if remaining is not None and remaining <= 0:
                break
            run.thread.join(timeout=0.2 if remaining is None else min(0.2, remaining))
        return self.status(run_id)

    # -- steering -----------------------------------------------------------------------------
    def pause(self, run_id: str, owner: str | None = None) -> None:
        run = self._get(run_id, owner)
        run.ctx.control.pause()
        run.record(StateChanged(RunState.PAUSED))

    def resume(self, run_id: str, owner: str | None = None) -> None:
        run = self._get(run_id, owner)
        run.ctx.control.resume()
        run.record(StateChanged(RunState.RUNNING))

    def step(self, run_id: str, owner: str | None = None) -> None:
        self._get(run_id, owner).ctx.control.step()

    def cancel(self, run_id: str, owner: str | None = None) -> None:
        """Stop the run within one step. Always works: a run whose worker is gone is ended here."""
        run = self._get(run_id, owner)
        if run.state == RunState.IDLE or (run.state in ACTIVE_STATES and not run.worker_alive):
            run.state = RunState.CANCELLED  # nothing is computing: cancelling just frees the model
            run.record(RunCancelledEvent(run.stage))
            run.ctx.release()
            return
        run.ctx.control.cancel()
        run.ctx.control.resume()  # a paused run must reach its next checkpoint to stop
        with self._cond:
            self._cond.notify_all()

    def release(self, run_id: str, owner: str | None = None) -> None:
        """Cancel if active, then drop the run's in-memory state (its folder stays on disk)."""
        run = self._get(run_id, owner)
        if run.state in ACTIVE_STATES:
            self.cancel(run_id)
            self.wait(run_id, timeout=30)
        self._drop(run)

    def discard(self, run_id: str, owner: str | None = None) -> None:
        """Cancel the run if it is active and drop it from the table once its worker has ended,
        without waiting here (a visitor replacing their run by a new one)."""
        run = self._get(run_id, owner)
        if run.state in ACTIVE_STATES or run.state == RunState.IDLE:
            self.cancel(run_id)
        with self._cond:
            run.discard_when_done = True
            ended = run.ended or not run.worker_alive
        if ended:
            self._drop(run)

    def _drop(self, run: LiveRun) -> None:
        run.ctx.release()
        run.log.close()
        with self._cond:
            if self._runs.get(run.id) is run:
                del self._runs[run.id]

    def stopping(self, run_id: str) -> bool:
        """True once the run was asked to stop (cancel, discard, a time limit) and is not done yet."""
        run = self._get(run_id)
        return run.state in ACTIVE_STATES and run.ctx.control.cancelled

    def active_count(self, owner: str) -> int:
        """How many of `owner`'s runs are queued, running or paused, not counting ones being stopped."""
        with self._cond:
            runs = list(self._runs.values())
        return sum(1 for r in runs if r.owner == owner and r.state in ACTIVE_STATES and not r.ctx.control.cancelled)

    # -- results ------------------------------------------------------------------------------
    def run_dir(self, run_id: str, owner: str | None = None) -> Path:
        return self._get(run_id, owner).run_dir

    def predict(self, run_id: str, x: np.ndarray, owner: str | None = None) -> np.ndarray:
        """Predictions in the task's units for raw inputs already encoded like the training data."""
        run = self._get(run_id, owner)
        if run.ctx.model is not None and run.state in (RunState.IDLE, RunState.FINISHED):
            from .predict import predict_array
            return predict_array(run.ctx.model, x, run.ctx.build_info, precision=run.config.precision)
        from .runs import load_run
        return load_run(run.run_dir).predict(x)

    def build_info(self, run_id: str, owner: str | None = None) -> BuildInfo:
        """What the run's model was built for (task, classes, data spec): from memory, else model.json."""
        run = self._get(run_id, owner)
        return run.ctx.build_info if run.ctx.build_info is not None else run.folder.read_build_info()

    def encode_file(self, run_id: str, path: str | Path, owner: str | None = None) -> np.ndarray:
        """A new file's inputs encoded exactly as the run's training data was (for `predict`)."""
        from .data import encode_inputs
        return encode_inputs(str(path), self.build_info(run_id, owner).data_spec)

    def dataset(self, run_id: str, owner: str | None = None) -> Dataset:
        """The run's data, split as the run split it (its test split, for trying single samples)."""
        config = self.config(run_id, owner)
        return load_dataset(config.data, config.seed)

    def config(self, run_id: str, owner: str | None = None) -> RunConfig:
        """The run's config as the engine uses it (with the server's path of its data)."""
        return self._get(run_id, owner).config

    def public_config(self, run_id: str, owner: str | None = None) -> RunConfig:
        """The run's config as config.json and the person who started it know it (their file's name)."""
        return self._get(run_id, owner).public_config

    def export_zip(self, run_id: str, owner: str | None = None, dest: str | Path | None = None) -> Path:
        """The run folder zipped, after checking it holds what its state promises (a finished run:
        config, events, metrics, model weights and model.json). Server paths in its text files are
        replaced by the names the person who started it knows."""
        run = self._get(run_id, owner)
        missing = run.folder.missing(FINISHED_RUN_FILES if run.state == RunState.FINISHED else STARTED_RUN_FILES)
        if missing:
            raise RunError(f"run {run.id} cannot be exported: its folder lacks {', '.join(missing)} "
                           "(deleted to free disk space, or never written); nothing was zipped")
        replace = {str(run.run_dir.resolve()): run.run_dir.name, str(run.run_dir): run.run_dir.name}
        if run.public_config.data.source != run.config.data.source:
            replace[str(run.config.data.source)] = run.public_config.data.source
        try:
            return run.folder.export_zip(dest, replace=replace)
        except OSError as err:
            raise RunError(f"could not write the run zip: {err.strerror or err}") from None

    def command_line(self, run_id: str, owner: str | None = None) -> str:
        from .config import command_line
        return command_line(self._get(run_id, owner).public_config)


def _write_failure(reason: str) -> str:
    return f"could not write the run's files ({reason}); the run stopped. Free some disk space and start again"



# -- the classroom: identical runs computed once, recorded lessons (the app's door to them) -------------

def shared_runs(session: Session, cache_dir: str | Path, max_bytes: int) -> Any:
    """The sharing layer over `session` (orca_engine.shared_runs.SharedRuns): an identical run is
    replayed from the run cache in `cache_dir` (at most `max_bytes`) or watched while it computes."""
    from .shared_runs import RunCache, SharedRuns
    return SharedRuns(session, RunCache(cache_dir, max_bytes))
