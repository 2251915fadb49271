"""Event handlers: each asks the engine's Session for something and returns what the page shows.

This is the one place engine errors (`OrcaError`) become messages for people (`friendly`). No
handler trains: runs go to the Session's worker threads and the page polls (`poll`). Every action
on a run passes the visitor's `owner`, so the Session refuses runs that belong to someone else.

Public-server rules: every file path a handler reads passes `uploads.uploaded_file` (only files
this server received as uploads); run folders are never served directly: an export is copied to
a per-download temp folder; starts are checked against `limits.PUBLIC`; a visitor keeps one run
in memory (starting another discards the previous one).
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from orca_engine.config import DataConfig, RunConfig
from orca_engine.errors import OrcaError
from orca_engine.runs import load_events
from orca_engine.session import Session

from . import classroom, limits, messages, render, tokens
from .state import Visitor
from .uploads import uploaded_file

RUNS_DIR = Path(os.environ.get("ORCA_RUNS_DIR", "runs"))
MAX_ACTIVE = int(os.environ.get("ORCA_MAX_ACTIVE", "1"))
KEEP_RUN_FOLDERS = int(os.environ.get("ORCA_KEEP_RUNS", "200"))  # older run folders are deleted
KEEP_PER_VISITOR = int(os.environ.get("ORCA_KEEP_PER_VISITOR", "3"))  # ... but never a present visitor's latest
# A page that closes frees its finished run's model this many seconds later, unless a reloaded page
# has re-attached meanwhile (a reload closes the old page, and the two race).
RELEASE_GRACE_S = float(os.environ.get("ORCA_RELEASE_GRACE_S", "300"))
_pending_release: dict[str, tuple[threading.Timer, object]] = {}  # run id -> (timer, token)
_pending_lock = threading.Lock()

_session: Session | None = None
_session_lock = threading.Lock()


def session() -> Session:
    """The process's one Session (created on first use)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = Session(runs_dir=RUNS_DIR, max_active=MAX_ACTIVE, keep_run_folders=KEEP_RUN_FOLDERS,
                               keep_per_owner=KEEP_PER_VISITOR, retain_s=RELEASE_GRACE_S,
                               time_limit_s=limits.PUBLIC.max_run_s or None,
                               time_limit_message=messages.TIME_LIMIT_STOP)
        return _session


# -- errors: the one translation point ---------------------------------------------------------

def friendly(err: Exception) -> str:
    """An engine error as a sentence for the page."""
    prefix = messages.ERROR_PREFIX.get(type(err).__name__, messages.ERROR_GENERIC)
    return f"{prefix}: {err}"


def error_box(err: Exception) -> str:
    return f'<div class="orca-error">⚠ {friendly(err)}</div>'


def shows_errors(fn: Callable) -> Callable:
    """Engine errors raised by a click handler become a Gradio error message, not a crash."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OrcaError as err:
            raise gr.Error(friendly(err)) from None
    return wrapper


# -- identity and re-attaching -------------------------------------------------------------------

def restorer(keys: list[str]) -> Callable:
    """Page load: adopt the identity the browser kept (only from a token this server signed), get the
    visitor's recent runs back for replay (also after a server restart), re-attach to the current
    run if the server has it; then put the run's data, projection view and option values back
    (dotted `keys`, in widget order)."""
    def restore(remembered: dict | None, visitor: Visitor):
        remembered = remembered or {}
        signed = tokens.verify(remembered.get("token"), tokens.secret(RUNS_DIR))
        if signed is not None:
            visitor.owner = signed[0]
            for run_id in signed[1]:
                if (RUNS_DIR / run_id).is_dir():
                    visitor.remember_past(run_id, str(RUNS_DIR / run_id))
            session().owner_present(visitor.owner)
        method = remembered.get("projection")
        if method in messages.PROJECTION_NOTES:
            visitor.projection_method = method
        run_id = remembered.get("run_id") or ""
        config = None
        if run_id and not visitor.run_id:
            try:
                run_dir = session().run_dir(run_id, owner=visitor.owner)  # checks the owner
                _keep_run(run_id)
                config = json.loads((Path(run_dir) / "config.json").read_text())
                visitor.watch(run_id)
            except (OrcaError, OSError, ValueError):
                config = None
        values = [gr.skip()] * len(keys)
        if config is not None:
            _restore_data(visitor, config["data"])
            values = [_option_value(config, key) for key in keys]
        view = visitor.projection_method if method in messages.PROJECTION_NOTES else gr.skip()
        return visitor.remembered(), gr.Timer(active=config is not None), view, *values
    return restore


def _restore_data(visitor: Visitor, data: dict) -> None:
    """A bundled example comes back as it was; an upload only if the page still shows it."""
    from orca_engine.data.examples import EXAMPLES
    if data["source"] in EXAMPLES.names():
        visitor.data_source, visitor.source_name = data["source"], ""
        visitor.label_column = data.get("label_column", "")


def _option_value(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return gr.skip() if node == {} else node


def remember(visitor: Visitor) -> dict:
    """What the browser keeps, with a signed token of the visitor's identity and recent runs."""
    run_ids = [*visitor.past_runs, *([visitor.run_id] if visitor.run_id else [])]
    return {**visitor.remembered(), "token": tokens.sign(visitor.owner, run_ids, tokens.secret(RUNS_DIR))}


def visitor_left(visitor: Visitor) -> None:
    """gr.State delete callback: free a finished visitor's model after `RELEASE_GRACE_S` (files stay
    for replay). A running run keeps running; a page reloaded in time re-attaches and keeps it."""
    if not isinstance(visitor, Visitor):
        return
    _remove_download(visitor)
    if not visitor.run_id:
        session().owner_left(visitor.owner)
        return
    run_id, owner, token = visitor.run_id, visitor.owner, object()
    timer = threading.Timer(RELEASE_GRACE_S, _release_if_done, (run_id, owner, token))
    timer.daemon = True
    with _pending_lock:
        previous = _pending_release.get(run_id)
        _pending_release[run_id] = (timer, token)
    if previous is not None:
        previous[0].cancel()
    timer.start()


def _release_if_done(run_id: str, owner: str, token: object) -> None:
    with _pending_lock:
        if _pending_release.get(run_id, (None, None))[1] is not token:
            return  # a page re-attached, or a later close rescheduled it
        del _pending_release[run_id]
    try:
        session().owner_left(owner)
        if session().status(run_id, owner=owner).state not in ("queued", "running", "paused"):
            session().release(run_id, owner=owner)
    except OrcaError:
        pass


def _keep_run(run_id: str) -> None:
    """A page (re)attached to `run_id`: cancel a pending release."""
    with _pending_lock:
        pending = _pending_release.pop(run_id, None)
    if pending is not None:
        pending[0].cancel()


# -- step 1: data ------------------------------------------------------------------------------

DATA_OUTPUTS = ("status", "class_counts", "preview_gallery", "preview_plot", "preview_table")


def use_example(visitor: Visitor, example: str, modality: str = "auto", task: str = "auto"):
    """Pick a bundled example and show what the engine understood of it."""
    visitor.data_source, visitor.label_column, visitor.source_name = example, "", ""
    return _data_view(visitor, modality, task)


def read_upload(visitor: Visitor, file: str | None, label_column: str | None = None, modality: str = "auto",
                task: str = "auto"):
    """Read an uploaded file; returns the data view plus the label-column picker."""
    try:
        path = uploaded_file(file)
    except OrcaError as err:
        return (error_box(err), *_hidden_previews(), gr.update(choices=[], value=None))
    if path is None:
        return (messages.NO_DATA, *_hidden_previews(), gr.update(choices=[], value=None))
    too_big = path.stat().st_size > messages.MAX_UPLOAD_MB * 1024 * 1024
    if too_big:
        text = messages.UPLOAD_TOO_LARGE.format(size_mb=path.stat().st_size / 2**20, limit_mb=messages.MAX_UPLOAD_MB)
        return (f'<div class="orca-error">⚠ {text}</div>', *_hidden_previews(), gr.update())
    try:
        from orca_engine.data import inspect_file
        info = inspect_file(path)
    except OrcaError as err:
        return (error_box(err), *_hidden_previews(), gr.update(choices=[], value=None))
    columns = [c["name"] for c in info.get("columns", [])]
    label = label_column if label_column in columns else info.get("label_guess", "")
    visitor.data_source, visitor.label_column, visitor.source_name = str(path), label or "", path.name
    picker = gr.update(choices=columns, value=label or None, visible=bool(columns))
    return (*_data_view(visitor, modality, task), picker)


def _data_view(visitor: Visitor, modality: str, task: str):
    try:
        ds = load_data(visitor.data_source, visitor.label_column, modality, task, seed=0)
    except OrcaError as err:
        return (error_box(err), *_hidden_previews())
    report = ds.report
    counts = render.class_count_rows(report)
    preview = ds.preview(8)
    kind = preview["kind"]
    return (render.data_summary(report),
            gr.update(value=counts, headers=render.class_count_headers(report), visible=bool(counts)),
            gr.update(value=render.gallery_items(preview["x"], preview["targets"]) if kind == "image" else None,
                      visible=kind == "image"),
            gr.update(value=render.signal_figure(preview["x"], preview["targets"]) if kind == "signal" else None,
                      visible=kind == "signal"),
            _table_update(preview) if kind == "table" else gr.update(visible=False))


def _table_update(preview: dict) -> Any:
    rows = render.table_preview(preview["rows"], preview["targets"])
    headers = (list(preview["rows"][0]) if preview["rows"] else []) + ["target"]
    return gr.update(value=rows, headers=headers, visible=True)


def _hidden_previews() -> tuple:
    return (gr.update(visible=False),) * (len(DATA_OUTPUTS) - 1)


@functools.lru_cache(maxsize=4)
def load_data(source: str, label_column: str, modality: str, task: str, seed: int):
    """The dataset as the engine sees it (cached: previews and 'try it' reuse it)."""
    if not source:
        raise gr.Error(messages.NEED_DATA)
    from orca_engine.data import load_dataset
    cfg = DataConfig(source=source, label_column=label_column, modality=modality or "auto", task=task or "auto",
                     max_samples=messages.MAX_SAMPLES)
    return load_dataset(cfg, seed)


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
    """Refine the aligned model in memory, or run align + refine when there is none; then evaluate."""
    if not (visitor.run_id and _state(visitor) == "idle"):
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


def _state(visitor: Visitor) -> str:
    """The state of the visitor's run, or "" when it is not theirs to continue (a shared run)."""
    if classroom.is_shared_with_me(visitor):
        return ""
    return session().status(visitor.run_id, owner=visitor.owner).state


def _control(verb: str) -> Callable:
    @shows_errors
    def control(visitor: Visitor) -> str:
        if not visitor.run_id:
            raise gr.Error(messages.NO_ACTIVE_RUN)
        if classroom.is_shared_with_me(visitor):
            raise gr.Error(messages.SHARED_READ_ONLY)
        getattr(session(), verb)(visitor.run_id, owner=visitor.owner)
        return render.progress_text(session().status(visitor.run_id, owner=visitor.owner))
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
    return messages.projection_note(method)


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
        from orca_engine.data import encode_inputs
        x, truths = encode_inputs(str(path), ds.spec), None
    else:
        i = int(min(max(sample or 0, 0), len(ds.x_test) - 1))
        x, truths = ds.x_test[i:i + 1], [_readable(ds, ds.y_test[i])]
    outputs = session().predict(visitor.run_id, x, owner=visitor.owner)
    return render.prediction_rows(outputs, ds.task, ds.class_names, truths)


def _readable(ds, y) -> str:
    if ds.task == "classification":
        return ds.class_names[int(y)]
    flat = [float(v) for v in (y.ravel() if hasattr(y, "ravel") else [y])]
    return ", ".join(f"{v:.4g}" for v in flat[:4])


# -- step 6: export and replay ----------------------------------------------------------------

@shows_errors
def export_run(visitor: Visitor):
    """Write the figures into the run folder, zip the run, and give the reproducing command line."""
    if not visitor.run_id:
        raise gr.Error(messages.NOTHING_TO_EXPORT)
    run_dir = session().run_dir(visitor.run_id, owner=visitor.owner)
    figures = write_figures(visitor, run_dir / "figures")
    _remove_download(visitor)
    folder = Path(tempfile.mkdtemp(prefix="orca-download-"))  # run folders themselves are never served
    visitor.download_dir = str(folder)
    archive = session().export_zip(visitor.run_id, owner=visitor.owner, dest=folder / f"{visitor.run_id}.zip")
    copies = [Path(shutil.copy(p, folder / p.name)) for p in figures]
    command = session().command_line(visitor.run_id, owner=visitor.owner)
    return messages.RUN_LABEL.format(run_id=visitor.run_id), str(archive), [str(p) for p in copies], command


def _remove_download(visitor: Visitor) -> None:
    """Delete the visitor's previous download folder (Gradio has copied what it served from it)."""
    if visitor.download_dir:
        shutil.rmtree(visitor.download_dir, ignore_errors=True)
        visitor.download_dir = ""


def write_figures(visitor: Visitor, folder: Path) -> list[Path]:
    """The current figures as standalone interactive HTML files."""
    folder.mkdir(parents=True, exist_ok=True)
    view, written = visitor.view, []
    for name, build in render.FIGURES.items():
        path = folder / f"{name}.html"
        build(view).write_html(path, include_plotlyjs="cdn")
        written.append(path)
    return written


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
        name, records = path.name, events_from_file(path)
    elif run_id:
        name, records = run_id, load_events(_own_run_dir(visitor, run_id))
    else:
        raise gr.Error(messages.BAD_REPLAY_FILE)
    visitor.replay_events(name, records)
    return messages.REPLAYING.format(name=name), gr.Timer(active=True)


@shows_errors
def compare_runs(visitor: Visitor):
    """Step 7: the visitor's finished runs on the current dataset, as a table and a chart."""
    from .compare_view import comparison_chart, comparison_rows
    ids = sorted(set([s.run_id for s in session().runs(visitor.owner)] + list(visitor.past_runs)))
    note, shown, table = comparison_rows([_own_run_dir(visitor, i) for i in ids], visitor.data_source or None)
    return note, shown, comparison_chart(table)


def _own_run_dir(visitor: Visitor, run_id: str) -> str:
    if run_id in visitor.past_runs:
        return visitor.past_runs[run_id]
    try:
        return str(session().run_dir(run_id, owner=visitor.owner))
    except OrcaError:
        raise gr.Error(messages.NOT_YOUR_RUN) from None


def events_from_file(path: Path) -> list[dict]:
    """Event records from an events.jsonl or a run zip holding one."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            found = [i for i in archive.infolist() if i.filename.endswith("events.jsonl")
                     and i.file_size <= messages.MAX_UPLOAD_MB * 2**20]
            text = archive.read(found[0]).decode(errors="replace") if found else ""
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "type" in record:
            records.append(record)
    if not records:
        raise gr.Error(messages.BAD_REPLAY_FILE)
    return records
