"""Session mechanics (queue, pause, single step, cancel, isolation, failure) on fast stand-in stages.

The stand-in stages follow the stage contract (generators of events that call
ctx.control.checkpoint() between steps); real stages are exercised in tests/engine/test_end_to_end.py.
"""
import time

import pytest

from orca_engine.errors import DataError, RunError
from orca_engine.events import StageFinished, StageStarted, StepLogged
from orca_engine.run_folder import RunFolder
from orca_engine.session import Session
from orca_engine.stages import STAGES


def _counting_stage(name, steps=200, delay=0.01):
    def stage(ctx):
        yield StageStarted(name, total_steps=steps)
        for i in range(1, steps + 1):
            ctx.control.checkpoint()
            time.sleep(delay)
            yield StepLogged(name, i, steps, loss=1.0 / i)
        ctx.metrics.setdefault("test", {"accuracy": 1.0})
        yield StageFinished(name)
    return stage


def _prepare(ctx):
    ctx.model = object()
    yield StageStarted("prepare", 0)


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    for name in ("align", "refine", "evaluate"):
        monkeypatch.setitem(STAGES._items, name, _counting_stage(name))
    return Session(runs_dir=tmp_path, max_active=1, live_projection=False)


def _wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_run_goes_through_stages_and_writes_events(session):
    run = session.start({"data": {"source": "digits"}}, stages=("align",))
    status = session.wait(run, timeout=20)
    assert status.state == "idle" and status.stages_done == ("prepare", "align")
    session.continue_run(run, stages=("refine", "evaluate"), overrides={"refine.epochs": 2})
    status = session.wait(run, timeout=20)
    assert status.state == "finished"
    events = session.events(run)
    assert [e["index"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "finished"
    on_disk = RunFolder(session.run_dir(run)).read_events()
    assert [e["type"] for e in on_disk] == [e["type"] for e in events]
    assert '"epochs": 2' in (session.run_dir(run) / "config.json").read_text()


def test_pause_blocks_steps_and_single_step_advances_exactly_one(session):
    run = session.start({}, stages=("align",))
    assert _wait_for(lambda: session.status(run).step >= 3)
    session.pause(run)
    time.sleep(0.2)
    frozen = session.status(run).step
    time.sleep(0.3)
    assert session.status(run).step == frozen and session.status(run).state == "paused"
    session.step(run)
    assert _wait_for(lambda: session.status(run).step == frozen + 1)
    time.sleep(0.2)
    assert session.status(run).step == frozen + 1
    session.resume(run)
    assert _wait_for(lambda: session.status(run).step > frozen + 3)
    session.cancel(run)
    assert session.wait(run, timeout=5).state == "cancelled"


def test_cancel_acts_within_a_step_and_frees_the_model(session):
    run = session.start({}, stages=("align",))
    assert _wait_for(lambda: session.status(run).step >= 2)
    session.cancel(run)
    seen = len(session.events(run))
    status = session.wait(run, timeout=30)
    later_steps = [e for e in session.events(run, since=seen) if e["type"] == "step"]
    assert status.state == "cancelled" and len(later_steps) <= 1  # the step under way, none after it
    assert session._runs[run].ctx.model is None
    assert session.events(run)[-1]["type"] == "cancelled"


def test_second_run_queues_with_a_visible_position(session):
    first = session.start({}, stages=("align",), owner="a")
    second = session.start({}, stages=("align",), owner="b")
    assert _wait_for(lambda: session.status(second).queue_position == 1)
    assert session.status(second).state == "queued"
    session.cancel(first)
    assert _wait_for(lambda: session.status(second).state == "running")
    session.cancel(second)
    session.wait(second, timeout=5)


def test_visitors_cannot_see_or_steer_each_others_runs(session):
    run = session.start({}, stages=("align",), owner="alice")
    with pytest.raises(RunError, match="another visitor"):
        session.cancel(run, owner="bob")
    with pytest.raises(RunError, match="another visitor"):
        session.events(run, owner="bob")
    assert session.runs(owner="bob") == []
    assert [s.run_id for s in session.runs(owner="alice")] == [run]
    session.cancel(run, owner="alice")
    session.wait(run, timeout=5)


def test_a_failing_stage_fails_the_run_not_the_session(session, monkeypatch):
    def broken(ctx):
        yield StageStarted("align", 1)
        raise DataError("column 'x' not found")
    monkeypatch.setitem(STAGES._items, "align", broken)
    run = session.start({}, stages=("align",))
    status = session.wait(run, timeout=5)
    assert status.state == "failed" and "column 'x' not found" in status.error
    assert session.events(run)[-1]["type"] == "failed"

    def crashing(ctx):
        yield StageStarted("align", 1)
        raise ZeroDivisionError("boom")
    monkeypatch.setitem(STAGES._items, "align", crashing)
    run2 = session.start({}, stages=("align",))
    status = session.wait(run2, timeout=5)
    assert status.state == "failed" and "ZeroDivisionError" in status.error
    assert (session.run_dir(run2) / "error.log").exists()


def test_continue_is_refused_unless_idle_and_bad_stages_are_named(session):
    run = session.start({}, stages=("align",))
    with pytest.raises(RunError, match="only a run that finished"):
        session.continue_run(run)
    with pytest.raises(RunError, match="unknown stage"):
        session.start({}, stages=("train",))
    session.cancel(run)
    session.wait(run, timeout=5)


def test_old_run_folders_are_pruned_but_never_a_live_run(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    monkeypatch.setitem(STAGES._items, "align", _counting_stage("align", steps=400))
    session = Session(runs_dir=tmp_path, live_projection=False, keep_run_folders=2)
    for i in range(3):
        old = tmp_path / f"old-{i}"
        old.mkdir()
        (old / "events.jsonl").write_text("")
        time.sleep(0.01)
    live = session.start({}, stages=("align",))
    second = session.start({}, stages=("align",))
    remaining = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert remaining == {live, second}, remaining
    session.cancel(live)
    session.cancel(second)
    session.wait(live, timeout=5)
    session.wait(second, timeout=5)


def test_many_starts_by_one_owner_never_delete_a_present_owners_run(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    monkeypatch.setitem(STAGES._items, "align", _counting_stage("align", steps=1, delay=0))
    session = Session(runs_dir=tmp_path, live_projection=False, keep_run_folders=5, keep_per_owner=1)
    alice = session.start({"data": {"source": "digits"}}, stages=("align",), owner="alice")
    session.wait(alice, timeout=20)
    session.release(alice, owner="alice")  # out of memory; its folder is alice's to replay and export
    for _ in range(30):
        run = session.start({"data": {"source": "digits"}}, stages=("align",), owner="mallory")
        session.wait(run, timeout=20)
        session.discard(run, owner="mallory")
    assert (tmp_path / alice).is_dir(), "a present visitor's run was deleted by another's starts"
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) <= 6
    session.owner_left("alice")  # retain_s = 0: gone at the next start
    session.start({"data": {"source": "digits"}}, stages=("align",), owner="mallory")
    assert not (tmp_path / alice).exists()


def test_export_says_what_a_finished_run_lacks_and_zips_no_server_paths(session, tmp_path):
    data = tmp_path / "uploads" / "abc123" / "plants.csv"
    run = session.start({"data": {"source": str(data)}}, stages=("align", "refine", "evaluate"),
                        source_name="plants.csv")
    assert session.wait(run, timeout=30).state == "finished"
    with pytest.raises(RunError, match="model.safetensors, model.json"):
        session.export_zip(run)
    for name in ("model.safetensors", "model.json"):
        (session.run_dir(run) / name).write_text("{}")
    import zipfile
    with zipfile.ZipFile(session.export_zip(run, dest=tmp_path / "out.zip")) as z:
        text = "".join(z.read(n).decode(errors="replace") for n in z.namelist())
    assert str(tmp_path) not in text and '"source": "plants.csv"' in text
    assert "plants.csv" in session.command_line(run) and str(data) not in session.command_line(run)


def test_a_full_disk_ends_the_run_failed_with_a_message_and_stop_still_works(session, monkeypatch):
    import errno
    from orca_engine import run_folder

    def full(self, record):
        raise OSError(errno.ENOSPC, "No space left on device")
    run = session.start({"data": {"source": "digits"}}, stages=("align",))
    assert _wait_for(lambda: session.status(run).step >= 2)
    monkeypatch.setattr(run_folder.EventLog, "append", full)
    monkeypatch.setattr(run_folder.Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    status = session.wait(run, timeout=20)
    assert status.state == "failed" and "No space left on device" in status.error
    assert session.events(run)[-1]["type"] == "failed"
    session.cancel(run)  # must not raise or hang


def test_the_time_limit_stops_a_run_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    monkeypatch.setitem(STAGES._items, "align", _counting_stage("align", steps=10_000, delay=0.01))
    session = Session(runs_dir=tmp_path, live_projection=False, time_limit_s=0.5,
                      time_limit_message="stopped: the public time limit of {seconds:g} s")
    run = session.start({"data": {"source": "digits"}}, stages=("align",))
    status = session.wait(run, timeout=20)
    assert status.state == "cancelled" and status.error == "stopped: the public time limit of 0.5 s"
    assert any(e["type"] == "warning" and "time limit" in e["message"] for e in session.events(run))


def test_cli_exits_2_with_a_message_when_the_disk_is_full(tmp_path, monkeypatch, capsys):
    import errno
    from orca_engine import cli, run_folder
    monkeypatch.setitem(STAGES._items, "prepare", _prepare)
    monkeypatch.setitem(STAGES._items, "align", _counting_stage("align", steps=3, delay=0))

    def full(self, record):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(run_folder.EventLog, "append", full)
    code = cli.main(["run", "--data", "digits", "--stages", "align", "--out", str(tmp_path), "--no-projection",
                     "--quiet"])
    assert code == 2 and "No space left on device" in capsys.readouterr().err
