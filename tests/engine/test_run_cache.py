"""The run cache and shared runs: identical runs are computed once, changed ones never served stale.

Stand-in stages (as in test_session) keep runs fast; the keys are the real `run_key`.
"""
import threading
import time

import pytest

from orca_engine import run_cache
from orca_engine.errors import RunError
from orca_engine.events import StageFinished, StageStarted, StepLogged
from orca_engine.run_cache import RunCache, code_version, run_key
from orca_engine.config import RunConfig
from orca_engine.session import Session
from orca_engine.shared_runs import SharedRuns
from orca_engine.stages import STAGES

FULL = ("align", "refine", "evaluate")


def _stage(name, steps=5, gate=None):
    def stage(ctx):
        yield StageStarted(name, total_steps=steps)
        for i in range(1, steps + 1):
            ctx.control.checkpoint()
            if gate is not None and name == "align" and i == 2:
                gate.wait(timeout=30)
            yield StepLogged(name, i, steps, loss=1.0 / i)
        if name == "evaluate":
            ctx.metrics["test"] = {"accuracy": 0.5}
        yield StageFinished(name)
    return stage


def _prepare(ctx):
    ctx.model = object()
    yield StageStarted("prepare", 0)


@pytest.fixture
def gate():
    return threading.Event()


@pytest.fixture
def shared(tmp_path, monkeypatch, gate):
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    for name in FULL:
        monkeypatch.setitem(STAGES._items, name, _stage(name, gate=gate))
    session = Session(runs_dir=tmp_path / "runs", live_projection=False)
    yield SharedRuns(session, RunCache(tmp_path / "cache", max_bytes=10 * 2**20))
    # Stop every run a test left going while the stand-in stages are still installed: once the
    # monkeypatch is undone, a queued run would start the real stages (a full MiniLM run on digits,
    # minutes of CPU in the background of every later test).
    gate.set()
    for status in session.runs():
        if status.state in ("queued", "running", "paused"):
            session.cancel(status.run_id)
    for status in session.runs():
        try:
            assert session.wait(status.run_id, timeout=60).state not in ("queued", "running", "paused")
        except RunError:  # discarded meanwhile: nothing left to wait for
            pass


def _finished(shared, gate, config, viewer="a"):
    gate.set()
    ticket = shared.request(config, FULL, viewer=viewer)
    assert ticket.kind == "started"
    assert shared.session.wait(ticket.run_id, timeout=30).state == "finished"
    _wait_for(lambda: shared.cache.keys() == [ticket.key] or ticket.key in shared.cache.keys())
    return ticket


def _wait_for(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_second_identical_request_is_replayed_from_the_cache(shared, gate):
    first = _finished(shared, gate, {"data": {"source": "digits"}})
    second = shared.request({"data": {"source": "digits"}}, FULL, viewer="b")
    assert second.kind == "replay" and second.key == first.key and second.run_id == first.run_id
    assert [r["type"] for r in second.records] == [r["type"] for r in shared.session.events(first.run_id)]
    assert second.finished_at >= second.records[0]["time"] and second.seconds >= 0
    assert len(shared.session.runs()) == 1  # nothing new was started


def test_the_label_of_a_run_does_not_change_its_key():
    assert run_key(RunConfig(name="mine"), FULL) == run_key(RunConfig(name="yours"), FULL)


@pytest.mark.parametrize("change", [{"seed": 1}, {"align": {"lr": 0.02}}, {"model": {"backbone": "tiny-roberta"}},
                                    {"data": {"source": "wine"}}, {"refine": {"epochs": 3}}])
def test_any_change_of_an_option_misses(shared, gate, change):
    _finished(shared, gate, {"data": {"source": "digits"}})
    config = {"data": {"source": "digits"}, **{k: v for k, v in change.items() if k != "data"}}
    config["data"] = change.get("data", config["data"])
    assert shared.request(config, FULL, viewer="b").kind == "started"


def test_other_stages_or_another_projection_miss(shared, gate):
    first = _finished(shared, gate, {"data": {"source": "digits"}})
    config = RunConfig.from_dict({"data": {"source": "digits"}})
    assert run_key(config, ("align",)) != first.key
    assert run_key(config, FULL, projection_method="umap") != first.key
    assert run_key(config, FULL) == first.key


def test_changed_data_misses_and_the_same_bytes_elsewhere_hit(shared, gate, tmp_path):
    data = tmp_path / "one" / "table.csv"
    data.parent.mkdir()
    data.write_text("a,b,label\n1,2,x\n3,4,y\n")
    first = _finished(shared, gate, {"data": {"source": str(data)}})
    copy = tmp_path / "two" / "upload.csv"  # an upload saved under another temp path
    copy.parent.mkdir()
    copy.write_bytes(data.read_bytes())
    assert shared.request({"data": {"source": str(copy)}}, FULL, viewer="b").kind == "replay"
    data.write_text("a,b,label\n1,2,x\n3,5,y\n")  # one value changed
    assert run_key(RunConfig.from_dict({"data": {"source": str(data)}}), FULL) != first.key
    assert shared.request({"data": {"source": str(data)}}, FULL, viewer="b").kind == "started"


def test_a_new_code_version_misses(shared, gate, monkeypatch):
    _finished(shared, gate, {"data": {"source": "digits"}})
    monkeypatch.setattr(run_cache, "code_version", lambda: "another-version")
    assert shared.request({"data": {"source": "digits"}}, FULL, viewer="b").kind == "started"


def test_the_code_version_follows_the_engine_source(tmp_path, monkeypatch):
    (tmp_path / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(run_cache, "PACKAGE", tmp_path)
    code_version.cache_clear()
    try:
        before = code_version()
        (tmp_path / "module.py").write_text("x = 2\n")
        code_version.cache_clear()
        assert code_version() != before
    finally:
        monkeypatch.undo()
        code_version.cache_clear()


def test_an_identical_request_attaches_to_the_run_in_progress_read_only(shared, gate):
    first = shared.request({"data": {"source": "digits"}}, FULL, viewer="a")  # held at align step 2 by the gate
    _wait_for(lambda: shared.session.status(first.run_id).stage == "align")
    second = shared.request({"data": {"source": "digits"}}, FULL, viewer="b")
    assert second.kind == "attached" and second.run_id == first.run_id
    assert shared.events(first.run_id, 0, viewer="b")[0]["type"] == "run_started"
    assert shared.status(first.run_id, viewer="b").state in ("running", "queued")
    for verb in ("pause", "step", "cancel", "release", "discard"):
        with pytest.raises(RunError, match="another visitor"):
            getattr(shared.session, verb)(first.run_id, owner="b")
    with pytest.raises(RunError, match="another visitor"):
        shared.events(first.run_id, 0, viewer="c")  # a stranger who never asked for it
    gate.set()
    assert shared.session.wait(first.run_id, timeout=30).state == "finished"
    assert len(shared.session.runs()) == 1


def test_the_starter_leaving_hands_the_run_to_a_watcher(shared, gate):
    first = shared.request({"data": {"source": "digits"}}, FULL, viewer="a")
    shared.request({"data": {"source": "digits"}}, FULL, viewer="b")
    assert shared.leave(first.run_id, "a") is True  # the run goes on: do not discard it
    assert shared.session.status(first.run_id).owner == "b"
    assert shared.leave(first.run_id, "b") is False  # the last watcher may stop it
    shared.session.discard(first.run_id, owner="b")
    gate.set()


def test_a_run_stopped_by_a_seconds_limit_is_cached_with_a_note(tmp_path):
    reason = run_cache.time_dependent({"align": {"stopped_by": "align.max_seconds = 120 reached"}})
    assert "align stopped by align.max_seconds" in reason
    assert not run_cache.time_dependent({"align": {"stopped_by": "plateau: ..."}, "test": {"accuracy": 1.0}})
    cache, key = RunCache(tmp_path), "a" * 64
    cache.put(key, [{"index": 0, "time": 1.0, "type": "finished"}], "run", note=reason)
    assert cache.get(key).note == reason


def test_the_cache_stays_under_its_disk_bound_and_evicts_the_least_recently_used(tmp_path):
    import hashlib
    import os
    records = [{"index": i, "time": float(i), "type": "step", "noise": os.urandom(200).hex()} for i in range(3)]
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(6)]
    probe = RunCache(tmp_path / "probe")
    probe.put(keys[0], records, "run-0")
    bound = int(2.5 * probe.size_bytes())  # two entries fit, three do not
    cache = RunCache(tmp_path / "cache", max_bytes=bound)
    assert cache.put(keys[0], records, "run-0")
    cache.put(keys[1], records, "run-1")
    old = time.time() - 100
    os.utime(tmp_path / "cache" / keys[0], (old, old))
    os.utime(tmp_path / "cache" / keys[1], (old + 1, old + 1))
    assert cache.get(keys[0]) is not None  # a use: keys[0] is now the most recent
    cache.put(keys[2], records, "run-2")
    assert cache.size_bytes() <= bound
    assert set(cache.keys()) == {keys[0], keys[2]}  # keys[1], least recently used, went
    for key in keys[3:]:
        cache.put(key, records, "run")
        assert cache.size_bytes() <= bound
    big = [{"index": i, "type": "step", "noise": os.urandom(200).hex()} for i in range(30)]
    assert not cache.put(keys[0], big, "too-big")  # an entry over the bound alone is refused


def test_a_cache_key_must_be_a_hex_digest(tmp_path):
    with pytest.raises(ValueError):
        RunCache(tmp_path).get("../../etc")


def test_a_queued_run_is_told_a_rough_wait_from_recent_runs(shared, gate):
    assert shared.queue_eta_s(2) is None  # nothing finished yet: no guess
    first = _finished(shared, gate, {"data": {"source": "digits"}})
    events = shared.session.events(first.run_id)
    running = next(r["time"] for r in events if r["type"] == "state" and r["state"] == "running")
    assert shared.queue_eta_s(3) == pytest.approx(3 * (events[-1]["time"] - running))


def test_pruning_run_folders_leaves_the_cache_and_the_shares_alone(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    for name in FULL:
        monkeypatch.setitem(STAGES._items, name, _stage(name))
    for hidden in (".cache", ".shares"):
        (tmp_path / hidden).mkdir()
        (tmp_path / hidden / "kept").write_text("x")
    session = Session(runs_dir=tmp_path, live_projection=False, keep_run_folders=1, keep_per_owner=1)
    for i in range(3):
        run = session.start({"data": {"source": "digits"}}, stages=("align",), owner=f"visitor-{i}")
        session.wait(run, timeout=30)
        session.release(run)
        session.owner_left(f"visitor-{i}")  # retain_s = 0: their folders may go at once
    assert (tmp_path / ".cache" / "kept").exists() and (tmp_path / ".shares" / "kept").exists()
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 1  # pruning did run
