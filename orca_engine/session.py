"""The engine's one small API: start runs in worker threads, read their events, steer them.

    session = Session(runs_dir="runs", max_active=1)
    run_id = session.start({"data": {"source": "digits"}}, stages=("align",), owner=visitor)
    session.events(run_id, since=0)          # new event records since index 0
    session.pause(run_id); session.step(run_id); session.resume(run_id); session.cancel(run_id)
    session.continue_run(run_id, stages=("refine", "evaluate"), overrides={"refine.epochs": 3})

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .config import RunConfig
from .errors import OrcaError, RunCancelled, RunError
from .events import (Event, RunCancelledEvent, RunFailed, RunFinished, RunStarted, StageStarted, StateChanged,
                     StepLogged, TrialFinished)
from .events import WarningRaised
from .runs import (FINISHED_RUN_FILES, STARTED_RUN_FILES, EventLog, export_zip, missing_run_files, new_run_dir,
                   write_json)

ACTIVE_STATES = ("queued", "running", "paused")


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    owner: str
    name: str
    state: str  # queued | running | paused | idle | finished | failed | cancelled
    stage: str
    step: int
    total: int
    queue_position: int  # 1-based while queued, else 0
    elapsed_s: float
    eta_s: float | None
    error: str
    run_dir: str
    stages_done: tuple = ()
    metrics: dict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


class _Run:
    """Book-keeping of one run; mutated by its worker thread under `lock`."""

    def __init__(self, run_id: str, owner: str, config: RunConfig, run_dir: Path, ctx):
        self.id, self.owner, self.config, self.run_dir, self.ctx = run_id, owner, config, run_dir, ctx
        self.lock = threading.Lock()
        self.events: list[dict] = []
        self.log = EventLog(run_dir / "events.jsonl")
        self.state, self.stage, self.step, self.total = "queued", "", 0, 0
        self.error = ""
        self.created = time.time()
        self.stage_started = time.time()
        self.thread: threading.Thread | None = None
        self.ended = False  # the worker thread has finished (guarded by the session's condition)
        self.discard_when_done = False
        self.projector = None
        self.projection_method = "pca"
        self.public_config = config  # what config.json and the command line show (the visitor's file name)
        self.write_error = ""  # the first failed write of events.jsonl (e.g. a full disk)
        self.stop_reason = ""  # why the session stopped it (a time limit), shown as its error

    def record(self, event: Event) -> None:
        """Keep the event in memory, then append it to events.jsonl. Never raises: a failed write is
        remembered in `write_error` (the worker then fails the run), so the error path itself can
        always record its terminal event."""
        with self.lock:
            record = {"index": len(self.events), "time": round(time.time(), 3), **event.to_dict()}
            self.events.append(record)
            if isinstance(event, StageStarted):
                self.stage, self.step, self.total = event.stage, 0, event.total_steps
                self.stage_started = time.time()
            elif isinstance(event, StepLogged):
                self.step, self.total = event.step, event.total
            elif isinstance(event, TrialFinished):  # a tune stage's progress is counted in trials
                self.step, self.total = event.trial, event.total
        try:
            self.log.append(record)
        except OSError as err:
            self.write_error = self.write_error or f"{err.strerror or err}"


def planned_refine_steps(config: RunConfig, n_train: int) -> int:
    """Optimiser steps a run's refine stage will take on `n_train` training samples (its budget)."""
    from .stages.budget import refine_budget
    return refine_budget(config.refine, n_train, n_val=0).total_steps


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
        self.keep_run_folders = keep_run_folders  # None keeps every folder; a public server bounds its disk
        self.keep_per_owner = keep_per_owner  # a present owner's latest run folders are never pruned
        self.retain_s = retain_s  # ... nor for this long after the owner left (`owner_left`)
        self.time_limit_s = time_limit_s  # wall-clock limit of one launch (None: no limit, the CLI)
        self.time_limit_message = time_limit_message
        self._owned: dict[str, list[Path]] = {}  # owner -> their latest run folders, oldest first
        self._departed: dict[str, float] = {}  # owner -> when they left
        self._runs: dict[str, _Run] = {}
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
        self._prune_run_folders()
        try:
            run_dir = new_run_dir(self.runs_dir, name)
            write_json(run_dir / "config.json", public.to_dict())
        except OSError as err:
            raise RunError(f"cannot create the run folder in {self.runs_dir}: {err.strerror or err}") from None
        ctx = RunContext(config=config, run_dir=run_dir, cache_dir=self.cache_dir)
        run = _Run(run_dir.name, owner, config, run_dir, ctx)
        run.public_config = public
        run.projection_method = self.projection_method
        if projection_method is not None:
            from .projection import check_method
            run.projection_method = check_method(projection_method)
        with self._cond:
            self._runs[run.id] = run
            self._owned.setdefault(owner, []).append(run_dir)
            del self._owned[owner][:-self.keep_per_owner]
            self._departed.pop(owner, None)
        run.record(RunStarted(run.id, str(run_dir), public.to_dict()))
        self._launch(run, stages)
        return run.id

    def continue_run(self, run_id: str, stages: Iterable[str] = ("refine", "evaluate"),
                     overrides: dict[str, Any] | None = None, owner: str | None = None) -> None:
        """Run further stages on the run's in-memory model (e.g. refine after watching alignment)."""
        run = self._get(run_id, owner)
        if run.state != "idle":
            raise RunError(f"run {run_id} is {run.state}; only a run that finished its stages and still holds "
                           "its model can continue (start a new run otherwise)")
        stages = self._checked_stages(stages)
        if overrides:
            config = run.config.with_overrides(overrides)
            run.config = run.ctx.config = config
            run.public_config = run.public_config.with_overrides(overrides)
            try:
                write_json(run.run_dir / "config.json", run.public_config.to_dict())
            except OSError as err:
                raise RunError(f"cannot write the run's config.json: {err.strerror or err}") from None
        self._launch(run, stages)

    def _prune_run_folders(self) -> None:
        """Delete the oldest run folders (and their zips) beyond `keep_run_folders`; never a live run's,
        nor the latest `keep_per_owner` of an owner who is present or left less than `retain_s` ago
        (so one visitor's many starts cannot push out another visitor's run)."""
        if self.keep_run_folders is None or not self.runs_dir.is_dir():
            return
        import shutil
        protected = self._protected_folders()
        folders = sorted((p for p in self.runs_dir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for old in folders[:max(0, len(folders) - self.keep_run_folders + 1)]:
            if old.resolve() not in protected:
                shutil.rmtree(old, ignore_errors=True)
                old.with_suffix(".zip").unlink(missing_ok=True)

    def _protected_folders(self) -> set[Path]:
        now = time.time()
        with self._cond:
            for owner, left in list(self._departed.items()):
                if now - left > self.retain_s:
                    del self._departed[owner]
                    self._owned.pop(owner, None)
            keep = [p for paths in self._owned.values() for p in paths]
            keep += [r.run_dir for r in self._runs.values() if r.state in ACTIVE_STATES or r.ctx.model is not None]
        return {p.resolve() for p in keep}

    def owner_present(self, owner: str) -> None:
        """`owner` is (back) on the page: their latest run folders are kept."""
        with self._cond:
            self._departed.pop(owner, None)

    def owner_left(self, owner: str) -> None:
        """`owner` closed their page: their folders may be pruned `retain_s` seconds from now."""
        with self._cond:
            if owner in self._owned:
                self._departed[owner] = time.time()

    def _checked_stages(self, stages: Iterable[str]) -> tuple[str, ...]:
        from .stages import USER_STAGES
        stages = tuple(stages)
        bad = [s for s in stages if s not in USER_STAGES]
        if bad or not stages:
            raise RunError(f"unknown stage(s) {bad or '(none given)'}; choose from {', '.join(USER_STAGES)}")
        return stages

    def _launch(self, run: _Run, stages: tuple[str, ...]) -> None:
        run.state, run.error = "queued", ""
        with self._cond:
            self._waiting.append(run.id)
        run.thread = threading.Thread(target=self._work, args=(run, stages), name=f"orca-run-{run.id}", daemon=True)
        run.thread.start()

    # -- the worker -----------------------------------------------------------------------------
    def _work(self, run: _Run, stages: tuple[str, ...]) -> None:
        from .stages import STAGES
        try:
            self._wait_for_slot(run)
        except RunCancelled:
            self._end(run, "cancelled", RunCancelledEvent("queued"))
            self._worker_ended(run, held_slot=False)
            return
        limit = self._start_time_limit(run)
        try:
            run.state = "running"
            self._record_or_fail(run, StateChanged("running"))
            todo = stages if run.ctx.stages_done else ("prepare",) + stages
            for name in todo:
                run.stage = name
                if name == "align":
                    self._start_projection(run)
                try:
                    for event in STAGES.get(name)(run.ctx):
                        self._record_or_fail(run, event)
                    self._flush_projection(run)
                finally:
                    self._stop_projection(run)
                run.ctx.stages_done.append(name)
            if "evaluate" in run.ctx.stages_done:
                self._end(run, "finished", RunFinished(metrics=run.ctx.metrics.get("test", {})), keep_model=True)
            else:
                self._end(run, "idle", StateChanged("idle", detail="stages done; the model stays in memory"),
                          keep_model=True)
        except RunCancelled:
            self._end(run, "cancelled", RunCancelledEvent(run.stage))
        except OrcaError as e:
            self._end(run, "failed", RunFailed(type(e).__name__, str(e)))
        except OSError as e:  # a full disk, a removed folder: the run cannot go on, the server can
            self._end(run, "failed", RunFailed("RunError", _write_failure(e.strerror or str(e))))
        except Exception as e:  # noqa: BLE001 - a bug must fail this run, never the server
            logged = _write_error_log(run.run_dir)
            detail = " (details in error.log)" if logged else ""
            self._end(run, "failed", RunFailed("InternalError", f"{type(e).__name__}: {e}{detail}"))
        finally:
            if limit is not None:
                limit.cancel()
            if run.state in ACTIVE_STATES:  # only if the error path itself broke: still end the run
                run.state, run.error = "failed", run.error or "the run stopped unexpectedly"
            self._worker_ended(run, held_slot=True)

    def _record_or_fail(self, run: _Run, event: Event) -> None:
        run.record(event)
        if run.write_error:
            raise RunError(_write_failure(run.write_error))

    def _worker_ended(self, run: _Run, held_slot: bool) -> None:
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
            self._owned.setdefault(new_owner, []).append(run.run_dir)
            del self._owned[new_owner][:-self.keep_per_owner]

    def _wait_for_slot(self, run: _Run) -> None:
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

    def _end(self, run: _Run, state: str, event: Event, keep_model: bool = False) -> None:
        """Put the run in its terminal (or idle) state: in memory first, so nothing that fails on
        disk here can leave it 'running'."""
        if state in ("finished", "idle") and run.write_error:
            state, keep_model = "failed", False
            event = RunFailed("RunError", _write_failure(run.write_error))
        if state == "finished" and run.ctx.metrics:
            try:
                write_json(run.run_dir / "metrics.json", run.ctx.metrics)
            except OSError as err:
                state, keep_model = "failed", False
                event = RunFailed("RunError", _write_failure(err.strerror or str(err)))
        if state == "cancelled" and run.stop_reason:
            run.error = run.stop_reason
        else:
            run.error = getattr(event, "message", "") if state == "failed" else ""
        run.state = state
        run.record(event)
        try:
            if keep_model:
                self._evict_models(keep=run.id)
            else:
                run.ctx.release()
        except Exception:  # noqa: BLE001 - freeing memory must not undo the terminal state
            pass

    def _start_time_limit(self, run: _Run) -> threading.Timer | None:
        if not self.time_limit_s:
            return None
        timer = threading.Timer(self.time_limit_s, self._time_out, (run,))
        timer.daemon = True
        timer.start()
        return timer

    def _time_out(self, run: _Run) -> None:
        """The run used its wall-clock allowance: say so in its events, then cancel it."""
        if run.state not in ACTIVE_STATES or run.ctx.control.cancelled:
            return
        run.stop_reason = self.time_limit_message.format(seconds=self.time_limit_s)
        run.record(WarningRaised(run.stage or "run", run.stop_reason))
        run.ctx.control.cancel()
        run.ctx.control.resume()  # a paused run must reach its next checkpoint to stop

    def _evict_models(self, keep: str) -> None:
        holding = [r for r in self._runs.values() if r.ctx.model is not None and r.state in ("idle", "finished")]
        holding.sort(key=lambda r: r.created)
        for r in holding[:max(0, len(holding) - self.keep_models)]:
            if r.id != keep:
                r.ctx.release()

    # -- live projection ----------------------------------------------------------------------
    def _start_projection(self, run: _Run) -> None:
        if not self.live_projection:
            run.ctx.on_features = run.ctx.features_wanted = None
            return
        from .projection import ProjectionWorker
        run.projector = ProjectionWorker(emit=run.record, method=run.projection_method, seed=run.config.seed)
        run.projector.start()
        run.ctx.on_features = run.projector.submit
        run.ctx.features_wanted = run.projector.ready

    def _flush_projection(self, run: _Run) -> None:
        """Let the worker draw the last submitted snapshot, so the final frame shows the final state."""
        if run.projector is not None:
            run.projector.wait_idle(timeout=10.0)

    def _stop_projection(self, run: _Run) -> None:
        if run.projector is not None:
            run.projector.stop(timeout=10.0)
            run.projector = None
        run.ctx.on_features = run.ctx.features_wanted = None

    def set_projection_method(self, run_id: str, method: str, owner: str | None = None) -> None:
        from .projection import METHODS
        if method not in METHODS:
            raise RunError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
        run = self._get(run_id, owner)
        run.projection_method = method
        if run.projector is not None:
            run.projector.set_method(method)

    # -- reading ------------------------------------------------------------------------------
    def _get(self, run_id: str, owner: str | None = None) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise RunError(f"no run {run_id!r} in this session (it may have been released)")
        if owner is not None and run.owner != owner:
            raise RunError("that run belongs to another visitor")
        return run

    def events(self, run_id: str, since: int = 0, owner: str | None = None) -> list[dict]:
        run = self._get(run_id, owner)
        with run.lock:
            return run.events[since:]

    def status(self, run_id: str, owner: str | None = None) -> RunStatus:
        run = self._get(run_id, owner)
        with self._cond:
            position = self._waiting.index(run.id) + 1 if run.id in self._waiting else 0
        state = run.state
        if state == "running" and run.ctx.control.paused:
            state = "paused"
        elapsed = time.time() - run.stage_started
        eta = (elapsed / run.step * (run.total - run.step)) if run.step and state in ("running", "paused") else None
        return RunStatus(run.id, run.owner, run.config.name or run.run_dir.name, state, run.stage, run.step,
                         run.total, position, round(time.time() - run.created, 1), eta, run.error,
                         str(run.run_dir), tuple(run.ctx.stages_done), dict(run.ctx.metrics))

    def runs(self, owner: str | None = None) -> list[RunStatus]:
        ids = [r.id for r in self._runs.values() if owner is None or r.owner == owner]
        return [self.status(i) for i in ids]

    def wait(self, run_id: str, timeout: float | None = None) -> RunStatus:
        """Block until the run leaves the queued/running/paused states (or `timeout` seconds pass)."""
        run = self._get(run_id)
        deadline = None if timeout is None else time.time() + timeout
        while run.thread is not None and run.thread.is_alive():
            remaining = None if deadline is None else deadline - time.time()
            if remaining is not None and remaining <= 0:
                break
            run.thread.join(timeout=0.2 if remaining is None else min(0.2, remaining))
        return self.status(run_id)

    # -- steering -----------------------------------------------------------------------------
    def pause(self, run_id: str, owner: str | None = None) -> None:
        run = self._get(run_id, owner)
        run.ctx.control.pause()
        run.record(StateChanged("paused"))

    def resume(self, run_id: str, owner: str | None = None) -> None:
        run = self._get(run_id, owner)
        run.ctx.control.resume()
        run.record(StateChanged("running"))

    def step(self, run_id: str, owner: str | None = None) -> None:
        self._get(run_id, owner).ctx.control.step()

    def cancel(self, run_id: str, owner: str | None = None) -> None:
        """Stop the run within one step. Always works: a run whose worker is gone is ended here."""
        run = self._get(run_id, owner)
        worker_gone = run.thread is None or not run.thread.is_alive()
        if run.state == "idle" or (run.state in ACTIVE_STATES and worker_gone):
            run.state = "cancelled"  # nothing is computing: cancelling just frees the model
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
        if run.state in ACTIVE_STATES or run.state == "idle":
            self.cancel(run_id)
        with self._cond:
            run.discard_when_done = True
            ended = run.ended or run.thread is None or not run.thread.is_alive()
        if ended:
            self._drop(run)

    def _drop(self, run: _Run) -> None:
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

    def predict(self, run_id: str, x, owner: str | None = None):
        """Predictions in the task's units for raw inputs already encoded like the training data."""
        run = self._get(run_id, owner)
        if run.ctx.model is not None and run.state in ("idle", "finished"):
            from .predict import predict_array
            return predict_array(run.ctx.model, x, run.ctx.build_info)
        from .runs import load_run
        return load_run(run.run_dir).predict(x)

    def config(self, run_id: str, owner: str | None = None) -> RunConfig:
        """The run's config as the engine uses it (with the server's path of its data)."""
        return self._get(run_id, owner).config

    def export_zip(self, run_id: str, owner: str | None = None, dest: str | Path | None = None) -> Path:
        """The run folder zipped, after checking it holds what its state promises (a finished run:
        config, events, metrics, model weights and model.json). Server paths in its text files are
        replaced by the names the person who started it knows."""
        run = self._get(run_id, owner)
        missing = missing_run_files(run.run_dir, FINISHED_RUN_FILES if run.state == "finished" else STARTED_RUN_FILES)
        if missing:
            raise RunError(f"run {run.id} cannot be exported: its folder lacks {', '.join(missing)} "
                           "(deleted to free disk space, or never written); nothing was zipped")
        replace = {str(run.run_dir.resolve()): run.run_dir.name, str(run.run_dir): run.run_dir.name}
        if run.public_config.data.source != run.config.data.source:
            replace[str(run.config.data.source)] = run.public_config.data.source
        try:
            return export_zip(run.run_dir, dest, replace=replace)
        except OSError as err:
            raise RunError(f"could not write the run zip: {err.strerror or err}") from None

    def command_line(self, run_id: str, owner: str | None = None) -> str:
        from .config import command_line
        return command_line(self._get(run_id, owner).public_config)


def _write_failure(reason: str) -> str:
    return f"could not write the run's files ({reason}); the run stopped. Free some disk space and start again"


def _write_error_log(run_dir: Path) -> bool:
    """The traceback into error.log for whoever runs the server; False when even that fails."""
    try:
        (run_dir / "error.log").write_text(traceback.format_exc())
        return True
    except OSError:
        return False
