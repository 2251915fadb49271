"""A public Space's hostile visitor: server files, other visitors' runs, leaks, disk, fair use, restarts."""
import gc
import itertools
import os
import time
import weakref
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from app import data_step, handlers, limits, messages, server, tokens
from app.state import Visitor
from orca_engine.config import RunConfig

SECRET_ROWS = "api_key,label\nsk-live-123,a\nsk-live-456,b\n" * 20


@pytest.fixture
def server_file(tmp_path):
    """A file on the server that no visitor uploaded (a secret CSV, another visitor's events)."""
    path = tmp_path / "secret" / "events.jsonl"
    path.parent.mkdir()
    path.write_text(SECRET_ROWS)
    return str(path)


# every handler that takes a file, called the way the page calls it, with `path` in the file slot
FILE_HANDLERS = {
    "read_upload": lambda v, path: data_step.read_upload(v, path),
    "predict": lambda v, path: handlers.predict(v, 0, path),
    "replay": lambda v, path: handlers.replay(v, None, path),
}


@pytest.mark.parametrize("name", FILE_HANDLERS)
def test_no_handler_reads_a_server_file_that_was_not_uploaded(name, server_file, upload, fake_session):
    visitor = Visitor(owner="mallory")
    upload("mine.csv", "x,y\n1,a\n")  # the upload folder exists and holds something else
    try:
        out = FILE_HANDLERS[name](visitor, server_file)
    except gr.Error as err:
        out = str(err)
    text = str(out)
    assert messages.NOT_AN_UPLOAD.split("'")[2][:20] in text, text
    assert "sk-live" not in text and "api_key" not in text
    assert visitor.data_source == "" and visitor.replay is None


def test_paths_outside_the_upload_folder_or_not_received_are_refused(tmp_path, upload, monkeypatch):
    from app import uploads
    mine = upload("mine.csv", "x,y\n1,a\n")
    assert uploads.uploaded_file(mine) == Path(mine).resolve()
    sneaky = Path(mine).parent / ".." / ".." / ".." / "secret.csv"
    sneaky.write_text(SECRET_ROWS)
    for path in (str(sneaky), "/etc/passwd"):
        with pytest.raises(uploads.UploadRefused):
            uploads.uploaded_file(path)
    # inside a running server only files received through /upload count, not files Gradio cached for output
    served = upload("predictions.csv", "sample,prediction\n0,a\n")
    monkeypatch.setattr(uploads, "_received_uploads", lambda: {Path(mine).resolve()})
    assert uploads.uploaded_file(mine)
    with pytest.raises(uploads.UploadRefused):
        uploads.uploaded_file(served)


def test_run_folders_are_not_served_and_run_ids_are_unguessable(tmp_path):
    from app.ui import launch_options
    assert "allowed_paths" not in launch_options()
    from orca_engine.run_folder import RunFolder
    suffixes = {RunFolder.create(tmp_path, "digits").name.split("-digits-", 1)[1] for _ in range(3)}
    assert len(suffixes) == 3 and all(len(s) >= 16 for s in suffixes)


# -- tokens: a visitor finds their runs after a restart, nobody else's --------------------------

def test_signed_token_brings_back_own_runs_after_a_restart(tmp_path, monkeypatch, fake_session):
    fake_session.folder = tmp_path
    (tmp_path / "20240101-000000-digits-abc").mkdir()
    (tmp_path / "20240101-000000-digits-abc" / "events.jsonl").write_text('{"index": 0, "type": "run_started"}\n')
    alice = Visitor(owner="alice")
    alice.remember_past("20240101-000000-digits-abc", str(tmp_path / "20240101-000000-digits-abc"))
    note = handlers.remember(alice)

    restarted = Visitor()  # the server restarted: a new visitor, a Session that knows nothing
    handlers.restorer([])(note, restarted)
    assert restarted.owner == "alice" and "20240101-000000-digits-abc" in restarted.past_runs
    handlers.replay(restarted, "20240101-000000-digits-abc", None)

    forged = dict(note, token=note["token"][:-2] + "xx")
    stranger = Visitor()
    handlers.restorer([])(forged, stranger)
    assert stranger.owner != "alice" and not stranger.past_runs
    handlers.restorer([])({"owner": "alice", "run_id": "20240101-000000-digits-abc"}, stranger)  # unsigned
    assert stranger.owner != "alice"


def test_token_key_is_kept_in_the_runs_folder_unless_given(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCA_SECRET", raising=False)
    key = tokens.secret(tmp_path)
    assert len(key) == 32 and oct((tmp_path / ".secret").stat().st_mode)[-3:] == "600"
    assert tokens.verify(tokens.sign("o", ["../etc"], key), key) == ("o", [])  # no paths in run ids
    assert tokens.verify(tokens.sign("o", ["r1"], key), b"another key") is None


# -- fair use ---------------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, what", [("align.steps", 100_000, "align.steps"),
                                                 ("refine.epochs", 10_000, "refine.epochs"),
                                                 ("refine.batch_size", 1, "refine steps")])
def test_public_limits_refuse_and_say_why(option, value, what, fake_session):
    visitor = Visitor(data_source="digits")
    with pytest.raises(gr.Error, match=what) as caught:
        handlers.start_align(visitor, {option: value, "refine.epochs": 50} if option == "refine.batch_size"
                             else {option: value})
    assert "limit" in str(caught.value) and fake_session.calls == []


def test_too_many_classes_and_too_many_live_runs_are_refused():
    config = RunConfig.from_dict({"data": {"source": "digits"}})
    with pytest.raises(limits.LimitExceeded, match="classes = 10000"):
        limits.PUBLIC.check_config(config, n_train=100, n_classes=10_000)
    with pytest.raises(limits.LimitExceeded, match="tune.executor = ray is not offered"):
        limits.PUBLIC.check_config(config.with_overrides({"tune.executor": "ray"}), n_train=100, n_classes=10)
    limits.PUBLIC.check_live_runs(limits.PUBLIC.max_live_runs - 1)
    with pytest.raises(limits.LimitExceeded, match="queued or running"):
        limits.PUBLIC.check_live_runs(limits.PUBLIC.max_live_runs)


# -- leaks: 250 starts and stops from one visitor ---------------------------------------------

def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_250_starts_and_stops_leave_no_open_files_and_one_run_in_memory(tmp_path, request):
    from orca_engine.session import Session
    session = Session(runs_dir=tmp_path, keep_run_folders=20, keep_per_owner=3, live_projection=False)
    previous = server.install(session)
    request.addfinalizer(lambda: server.install(previous))
    # Every start its own seed: an identical run that once finished is replayed from the classroom's
    # run cache instead of starting (app/classroom.py), and this test measures starts.
    seeds = itertools.count()
    start_run = handlers.config_handler(["model.backbone", "align.steps", "seed"], handlers.start_align)

    def start(visitor, backbone, steps):
        start_run(visitor, backbone, steps, next(seeds))
    visitor = Visitor()
    data_step.use_example(visitor, "digits")

    contexts, built = [], []  # weak references: to every run's context, to the models and data built

    def start_and_stop(build_first: bool = False):
        start(visitor, "tiny-bert", 5)
        ctx = session._runs[visitor.run_id].ctx
        contexts.append(weakref.ref(ctx))
        if build_first:  # let this run build its model, so its release is part of what is measured
            assert _wait_for(lambda: _prepared(session, visitor.run_id), timeout=300)
            built.extend(weakref.ref(x) for x in (ctx.model, ctx.dataset) if x is not None)
        handlers.stop(visitor)

    # Honest warm-up: one run through alignment (the first model built imports transformers' model
    # classes, and with them torch._dynamo and sympy: ~110 MB once per process; before this warm-up
    # that import landed mid-loop, whenever a cancel first lost the race against model building,
    # and read as +18% RSS), then 25 starts and stops for the allocator's arenas.
    start(visitor, "tiny-bert", 5)
    assert session.wait(visitor.run_id, timeout=300).state == "idle"
    for i in range(25):
        start_and_stop(build_first=i == 0)
    session.wait(visitor.run_id, timeout=120)
    fds, rss = _open_fds(), _rss_mb()
    midway = None
    for i in range(250):
        start_and_stop(build_first=i % 25 == 0)  # 10 of them free a built model
        if i == 124:
            midway = _rss_mb()
    session.wait(visitor.run_id, timeout=120)
    assert _wait_for(lambda: len(session._runs) <= 1, timeout=120)  # the last workers finishing
    print(f"\nopen fds {fds} -> {_open_fds()}, RSS {rss:.0f} -> {midway:.0f} (after 125) -> {_rss_mb():.0f} MB, "
          f"runs in memory {len(session._runs)}, folders {len(list(tmp_path.iterdir()))}")
    assert _open_fds() <= fds * 1.1 + 1
    assert _rss_mb() <= rss * 1.1
    gc.collect()  # nothing holds a stopped run: no event list, closure, thread, cache or table entry
    kept = sum(ref() is not None for ref in contexts[:-1])
    assert kept == 0, f"{kept} stopped runs' contexts are still referenced"
    kept = sum(ref() is not None for ref in built)
    assert len(built) >= 10 and kept == 0, f"{kept} of {len(built)} released models and datasets are still referenced"
    assert len(session._runs) <= 1
    assert len([p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]) <= 21  # .cache: classroom


def _prepared(session, run_id: str) -> bool:
    """The run built its model (its prepare stage finished), or it already ended."""
    done = any(e["type"] == "stage_finished" and e.get("stage") == "prepare" for e in session.events(run_id))
    return done or not session.status(run_id).active


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True
