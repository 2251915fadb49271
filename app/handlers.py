"""Event handlers: each asks the engine's Session for something and returns what the page shows.

No handler trains: runs go to the Session's worker threads (`server.session()`) and the page
polls (`live.poll`). Every action on a run passes the visitor's `owner`, so the Session refuses runs
that belong to someone else. Engine errors become messages in `friendly`; step 1 (data) lives in
`data_step`.

Public-server rules: every file path a handler reads passes `uploads.uploaded_file` (only files
this server received as uploads); run folders are never served directly: an export is copied to
a per-download temp folder; starts are checked against `limits.PUBLIC`; a visitor keeps one run
in memory (starting another discards the previous one).
"""
from __future__ import annotations

import inspect
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from orca_engine.config import RunConfig
from orca_engine.errors import OrcaError
from orca_engine.session import events_from_file, events_on_disk, is_example, projection_status
from orca_engine.session import compare_runs as engine_compare

from . import classroom, limits, messages, render, tokens
from .data_step import load_data
from .friendly import shows_errors
from .server import keep_run, remove_download, runs_dir, session
from .state import Visitor
from .uploads import uploaded_file

if TYPE_CHECKING:
    from orca_engine.session import Dataset

# -- identity and re-attaching -------------------------------------------------------------------

def restorer(keys: list[str]) -> Callable:
    """Page load: adopt the identity the browser kept (only from a token this server signed), get the
    visitor's recent runs back for replay (also after a server restart), re-attach to the current
    run if the server has it; then put the run's data, projection view and option values back
    (dotted `keys`, in widget order)."""
    def restore(remembered: dict | None, visitor: Visitor):
        remembered = remembered or {}
        runs = runs_dir()
        signed = tokens.verify(remembered.get("token"), tokens.secret(runs))
        if signed is not None:
            visitor.owner = signed[0]
            for run_id in signed[1]:
                if (runs / run_id).is_dir():
                    visitor.remember_past(run_id, str(runs / run_id))
            session().owner_present(visitor.owner)
        method = remembered.get("projection")
        if method in messages.PROJECTION_NOTES:
            visitor.projection_method = method
        run_id = remembered.get("run_id") or ""
        config = None
        if run_id and not visitor.run_id:
            try:
                config = session().public_config(run_id, owner=visitor.owner).to_dict()  # checks the owner
                keep_run(run_id)
                visitor.watch(run_id)
            except OrcaError:
                config = None
        values = [gr.skip()] * len(keys)
        if config is not None:
            _restore_data(visitor, config["data"], run_id)
            values = [_option_value(config, key) for key in keys]
        view = visitor.projection_method if method in messages.PROJECTION_NOTES else gr.skip()
        return visitor.remembered(), gr.Timer(active=config is not None), view, *values
    return restore


def _restore_data(visitor: Visitor, data: dict, run_id: str) -> None:
    """A bundled example comes back as it was; an upload while the server still holds the file."""
    if is_example(data["source"]):
        visitor.data_source, visitor.source_name = data["source"], ""
        visitor.label_column = data.get("label_column", "")
        return
    try:
        path = Path(session().config(run_id, owner=visitor.owner).data.source)  # the server's copy
    except OrcaError:
        return
    if path.is_file():
        visitor.data_source, visitor.source_name = str(path), str(data["source"])
        visitor.label_column = data.get("label_column", "")


def _option_value(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return gr.skip() if node == {} else node


def remember(visitor: Visitor) -> dict:
    """What the browser keeps, with a signed token of the visitor's identity and recent runs."""
    run_ids = [*visitor.past_runs, *([visitor.run_id] if visitor.run_id else [])]
    return {**visitor.remembered(), "token": tokens.sign(visitor.owner, run_ids, tokens.secret(runs_dir()))}


# -- steps 3 and 4: starting and steering runs --------------------------------------------------

def config_handler(keys: list[str], action: Callable) -> Callable:
    """A handler taking (visitor, *values of `keys`) whose API parameters are named after the options."""
    def handler(visitor: Visitor, *values):
        return action(visitor, dict(zip(keys, values)))
    params = [inspect.Parameter("visitor", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(k.replace(".", "_"), inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in keys]
    handler.__signature__ = inspect.Signature(params)
    handler.__name__ = action.__name__
    handler.__doc__ = action.__doc__
    return handler


def run_config(visitor: Visitor, values: dict[str, Any]) -> RunConfig:
    """Widget values (dotted keys) + the visitor's data -> a validated RunConfig."""
    if not visitor.data_source:
        raise gr.Error(messages.NEED_DATA)
    from .tabs.backbone import unavailable_reason
    name = values.get("model.backbone")
    reason = unavailable_reason(name) if isinstance(name, str) else ""
    if reason:
        raise gr.Error(messages.BACKBONE_CANNOT_START.format(name=name, reason=reason))
    tree: dict[str, Any] = {"data": {"source": visitor.data_source, "label_column": visitor.label_column,
                                     "max_samples": messages.MAX_SAMPLES}}
    for key, value in values.items():
        section, _, name = key.rpartition(".")
        (tree.setdefault(section, {}) if section else tree)[name] = value
    return RunConfig.from_dict(tree)


@shows_errors
def start_align(visitor: Visitor, values: dict[str, Any]):
    """Prepare the data and backbone and align the embedder, in the engine's worker thread."""
    return _start_new_run(visitor, run_config(visitor, values), ("align",))


@shows_errors
def start_refine(visitor: Visitor, values: dict[str, Any]):
    """Refine the aligned model in memory, or run align + refine when there is none; then evaluate.
    While the visitor's run is still aligning (or paused in it) nothing starts: the message says
    which run-bar button leads on, so a paused alignment never silently carries into refinement."""
    status = _status(visitor)
    if status is not None and status.state in ("queued", "running", "paused"):
        if status.stage in ("", "prepare", "align"):
            text = messages.ALIGN_PAUSED_REFINE if status.state == "paused" else messages.ALIGN_RUNNING_REFINE
            raise gr.Error(text.format(step=status.step, total=status.total or "?"))
        raise gr.Error(messages.RUN_IN_PROGRESS.format(state=messages.STATE_NAMES[status.state].lower(),
                                                       stage=status.stage, step=status.step, total=status.total))
    if not (status is not None and status.state == "idle"):
        return _start_new_run(visitor, run_config(visitor, values), ("align", "refine", "evaluate"))
    run_config(visitor, values)  # validates every option, as a new run would
    overrides = {k: v for k, v in values.items() if k.startswith("refine.")}
    _check_fair_use(visitor, session().config(visitor.run_id, owner=visitor.owner).with_overrides(overrides))
    session().continue_run(visitor.run_id, stages=("refine", "evaluate"), overrides=overrides, owner=visitor.owner)
    visitor.last_state = ""
    return messages.STATE_NAMES["queued"], gr.Timer(active=True)


@shows_errors
def start_tune(visitor: Visitor, values: dict[str, Any]):
    """A new run that tunes hyperparameters on the validation split, then tests the best trial once."""
    return _start_new_run(visitor, run_config(visitor, values), ("tune", "evaluate"))


def _start_new_run(visitor: Visitor, config: RunConfig, stages: tuple[str, ...]):
    """Within the public limits, replace the visitor's run by a new one of `stages`, and watch it."""
    _check_fair_use(visitor, config)
    _retire_current(visitor)
    # An identical run is replayed from the cache or watched while it computes (app/classroom.py);
    # only a new run counts against the visitor's live runs.
    status = classroom.start(visitor, config, stages, before_start=lambda: limits.PUBLIC.check_live_runs(
        session().active_count(visitor.owner)))
    return status, gr.Timer(active=True)


def _check_fair_use(visitor: Visitor, config: RunConfig) -> None:
    """The public limits on steps, epochs and classes (the data is cached from step 1's preview)."""
    d = config.data
    ds = load_data(visitor.data_source, visitor.label_column, d.modality, d.task, seed=0)
    classes = len(ds.class_names) if ds.task == "classification" else None
    limits.PUBLIC.check_config(config, n_train=len(ds.x_train), n_classes=classes)


def _retire_current(visitor: Visitor) -> None:
    """One run per visitor in memory: stop the one they had and free it (its folder stays for replay)."""
    if not visitor.run_id:
        return
    try:
        if classroom.leave(visitor):  # a shared run goes on for the others watching it
            return
        run_dir = str(session().run_dir(visitor.run_id, owner=visitor.owner))
        session().discard(visitor.run_id, owner=visitor.owner)
    except OrcaError:
        run_dir = visitor.view.run_dir
    if run_dir:
        visitor.remember_past(visitor.run_id, run_dir)


def _status(visitor: Visitor):
    """The visitor's run's RunStatus, or None when there is none, the server no longer holds it, or it
    is not theirs to continue (a shared run: app/classroom.py)."""
    if not visitor.run_id or classroom.is_shared_with_me(visitor):
        return None
    try:
        return session().status(visitor.run_id, owner=visitor.owner)
    except OrcaError:
        return None


def _control(verb: str) -> Callable:
    @shows_errors
    def control(visitor: Visitor) -> str:
        if not visitor.run_id:
            raise gr.Error(messages.NO_ACTIVE_RUN)
        if classroom.is_shared_with_me(visitor):
            raise gr.Error(messages.SHARED_READ_ONLY)
        getattr(session(), verb)(visitor.run_id, owner=visitor.owner)
        return render.run_bar_text(session().status(visitor.run_id, owner=visitor.owner))
    control.__name__ = verb
    control.__doc__ = f"{verb.capitalize()} the visitor's current run (acts within one step)."
    return control


pause, resume, step, stop = (_control(v) for v in ("pause", "resume", "step", "cancel"))


def set_projection(visitor: Visitor, method: str) -> str:
    """Switch the live projection between PCA and UMAP (takes effect at the next frame)."""
    if method in messages.PROJECTION_NOTES:
        visitor.projection_method = method  # later runs start with it too
    if visitor.run_id:
        try:
            session().set_projection_method(visitor.run_id, method, owner=visitor.owner)
        except OrcaError:
            pass  # a finished run keeps its recorded frames
    return messages.projection_note(method, projection_status(warm_up=method == "umap"))


# -- step 5: test ----------------------------------------------------------------------------

@shows_errors
def predict(visitor: Visitor, sample: float | None = 0, file: str | None = None) -> list[list[Any]]:
    """Predict one test-split sample (by number) or every sample of an uploaded file."""
    path = uploaded_file(file)
    if not visitor.run_id or not visitor.view.config:
        raise gr.Error(messages.TRY_NEEDS_MODEL)
    config = session().config(visitor.run_id, owner=visitor.owner)  # the real data path, not the shown name
    data = config.data
    ds = load_data(data.source, data.label_column, data.modality, data.task, config.seed)
    if path is not None:
        x, truths = session().encode_file(visitor.run_id, path, owner=visitor.owner), None
    else:
        i = int(min(max(sample or 0, 0), len(ds.x_test) - 1))
        x, truths = ds.x_test[i:i + 1], [_readable(ds, ds.y_test[i])]
    outputs = session().predict(visitor.run_id, x, owner=visitor.owner)
    rows = render.prediction_rows(outputs, ds.task, ds.class_names, truths)
    if path is None:
        rows[0][0] = i  # the test sample's own number, as asked for
    return rows


def _readable(ds: Dataset, y: Any) -> str:
    if ds.task == "classification":
        return ds.class_names[int(y)]
    flat = [float(v) for v in (y.ravel() if hasattr(y, "ravel") else [y])]
    return ", ".join(f"{v:.4g}" for v in flat[:4])


# -- step 6: export and replay ----------------------------------------------------------------

@shows_errors
def export_run(visitor: Visitor):
    """Zip the shown run with a README, reproduce.sh and the uploaded data file; write its figures as
    one self-contained HTML file; give the reproducing command line. An unfinished run's zip says
    what it lacks, here and in its README."""
    from . import exporting
    if not visitor.run_id:
        if visitor.replay is not None or visitor.view.run_id:
            raise gr.Error(messages.REPLAY_NO_EXPORT.format(name=visitor.view.run_id))
        raise gr.Error(messages.NOTHING_TO_EXPORT)
    run_dir = session().run_dir(visitor.run_id, owner=visitor.owner)
    figures = exporting.figures_html(visitor.view, run_dir / "figures" / "figures.html", visitor.run_id)
    remove_download(visitor)
    folder = Path(tempfile.mkdtemp(prefix="orca-download-"))  # run folders themselves are never served
    visitor.download_dir = str(folder)
    archive = session().export_zip(visitor.run_id, owner=visitor.owner, dest=folder / f"{visitor.run_id}.zip")
    state = session().status(visitor.run_id, owner=visitor.owner).state
    missing = exporting.missing_results(Path(run_dir)) if state != "finished" else []
    config = session().config(visitor.run_id, owner=visitor.owner)
    uploaded = None if is_example(config.data.source) else Path(config.data.source)
    name = session().public_config(visitor.run_id, owner=visitor.owner).data.source if uploaded else ""
    exporting.complete_zip(archive, visitor.run_id, state, missing, uploaded if uploaded and uploaded.is_file()
                           else None, Path(name).name)
    copy = Path(shutil.copy(figures, folder / figures.name))
    command = exporting.command_text(session().command_line(visitor.run_id, owner=visitor.owner), Path(name).name)
    label = (messages.EXPORT_INCOMPLETE.format(state=messages.STATE_NAMES.get(state, state).lower(),
                                               present="config, events and what was written so far",
                                               missing=", ".join(missing))
             if missing else messages.EXPORT_READY.format(run_id=visitor.run_id))
    return label, str(archive), [str(copy)], command




def my_runs(visitor: Visitor):
    """The visitor's runs, newest first, for the replay picker."""
    ids = [s.run_id for s in session().runs(visitor.owner)] + list(visitor.past_runs)
    ids = sorted(set(ids), reverse=True)
    return gr.update(choices=ids, value=ids[0] if ids else None)


@shows_errors
def replay(visitor: Visitor, run_id: str | None = None, file: str | None = None):
    """Replay a recorded run (one of the visitor's, or an uploaded zip / events.jsonl) from its events."""
    path = uploaded_file(file)
    if path is not None:
        name, records = path.name, _events_from_file(path)
    elif run_id:
        name, records = run_id, events_on_disk(_own_run_dir(visitor, run_id))
    else:
        raise gr.Error(messages.BAD_REPLAY_FILE)
    _retire_current(visitor)  # the page shows one run: the replayed one (the current one is kept for replay)
    visitor.replay_events(name, records)
    return messages.REPLAYING.format(name=name), gr.Timer(active=True)


@shows_errors
def compare_runs(visitor: Visitor):
    """Step 7: the visitor's finished runs on the current dataset, as a table and a chart."""
    from .compare_view import comparison_chart, comparison_rows
    ids = sorted(set([s.run_id for s in session().runs(visitor.owner)] + list(visitor.past_runs)))
    dataset = visitor.source_name or visitor.data_source or None  # run configs name an upload as the visitor knows it
    comparison = engine_compare([_own_run_dir(visitor, i) for i in ids], dataset)
    note, shown = comparison_rows(comparison)
    return note, shown, comparison_chart(comparison.table)


def _own_run_dir(visitor: Visitor, run_id: str) -> str:
    if run_id in visitor.past_runs:
        return visitor.past_runs[run_id]
    try:
        return str(session().run_dir(run_id, owner=visitor.owner))
    except OrcaError:
        raise gr.Error(messages.NOT_YOUR_RUN) from None


def _events_from_file(path: Path) -> list[dict]:
    """Event records from an uploaded events.jsonl or a run zip holding one."""
    try:
        return events_from_file(path, max_bytes=messages.MAX_UPLOAD_MB * 2**20)
    except OrcaError:
        raise gr.Error(messages.BAD_REPLAY_FILE) from None
