"""The classroom on the page: paced replays, the motion trail and scrubber, lessons, the pair and its verdict.

Pure app code over recorded event records; no training (tests/engine/test_run_cache.py covers the cache).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from app import lessons, live, motion, render
from app.replay import Replay, replay_offsets
from app.state import RunView, Visitor
from orca_engine import lessons as engine_lessons
from orca_engine.lessons import compact_events, load_lesson, write_events_gz


def _frame(step, shift, n=20, method="pca"):
    rng = np.random.default_rng(step)
    return {"type": "projection", "stage": "align", "step": step, "method": method,
            "source_xy": rng.normal(size=(n, 2)).tolist(), "target_xy": (rng.normal(size=(n, 2)) + shift).tolist(),
            "source_labels": [i % 3 for i in range(n)], "target_labels": [i % 2 for i in range(n)]}


def _run(accuracy, objective="otdd-exact", frames=4, t0=1000.0, n_test=360):
    """Event records of a finished run whose test accuracy is `accuracy`."""
    records = [{"type": "run_started", "run_id": "r", "run_dir": "/srv/runs/r", "config": {}},
               {"type": "stage_started", "stage": "prepare", "total_steps": 0},
               {"type": "stage_finished", "stage": "prepare",
                "metrics": {"dataset": {"splits": {"test": n_test}, "class_counts": {"train": {"a": 1, "b": 1}}}}}]
    if objective != "none":
        records += [{"type": "stage_started", "stage": "align", "total_steps": frames}]
        for i in range(frames):
            records += [{"type": "step", "stage": "align", "step": i, "total": frames, "loss": 1.0 / (i + 1)},
                        _frame(i, shift=3.0 - i)]
        records += [{"type": "stage_finished", "stage": "align",
                     "metrics": {"otdd_before": 9.0, "otdd_after": 3.0, "objective": objective}}]
    records += [{"type": "stage_started", "stage": "refine", "total_steps": 2},
                {"type": "validation", "stage": "refine", "epoch": 1.0, "metrics": {"accuracy": accuracy - 0.1}},
                {"type": "validation", "stage": "refine", "epoch": 2.0, "metrics": {"accuracy": accuracy}},
                {"type": "stage_finished", "stage": "evaluate",
                 "metrics": {"test": {"accuracy": accuracy},
                             "baselines": {"results": [{"model": "logistic", "validation": {"accuracy": 0.9},
                                                        "test": {"accuracy": 0.91}}],
                                           "verdict": {"text": "ORCA did not beat logistic", "beat": False}}}},
                {"type": "finished", "metrics": {"test": {"accuracy": accuracy}}}]
    return [{"index": i, "time": t0 + 2.0 * i, **r} for i, r in enumerate(records)]


# -- replay pacing ------------------------------------------------------------------------------

def test_replay_offsets_cap_gaps_and_fit_the_replay_time():
    records = [{"time": t} for t in (0.0, 0.5, 100.0, 100.2)]  # a 99.5 s gap (loading a backbone)
    assert replay_offsets(records, max_seconds=30, max_gap_s=1.0) == pytest.approx([0.0, 0.5, 1.5, 1.7])
    lead = [{"time": 0.0}, {"time": 5.0, "type": "stage_started"}, {"time": 9.0, "type": "projection"},
            {"time": 20.0}]
    assert replay_offsets(lead, max_seconds=30, max_gap_s=1.0) == pytest.approx([0.0, 0.2, 0.4, 1.4])  # first frame soon
    many = [{"time": float(t)} for t in range(1000)]
    offsets = replay_offsets(many, max_seconds=30)
    assert offsets[0] == 0 and offsets[-1] == pytest.approx(30) and offsets == sorted(offsets)


def test_a_replay_hands_out_each_record_once_when_its_time_comes():
    replay = Replay([{"time": float(t), "i": t} for t in range(10)], max_seconds=9, started=100.0)
    assert [r["i"] for r in replay.due(now=100.0)] == [0]
    assert [r["i"] for r in replay.due(now=104.5)] == [1, 2, 3, 4]
    assert replay.due(now=104.5) == [] and not replay.done
    assert [r["i"] for r in replay.finish()] == [5, 6, 7, 8, 9] and replay.done


# -- motion: ghost, centre path, scrubber ---------------------------------------------------------

def _view(records):
    view = RunView()
    view.apply_all(records)
    return view


def test_the_projection_shows_where_the_data_started_and_the_path_of_its_centre():
    view = _view(_run(0.9))
    fig = render.projection_figure(view)
    names = [t.name for t in fig.data]
    ghost = next(t for t in fig.data if t.name.startswith("your data at step"))
    path = next(t for t in fig.data if t.name.startswith("centre of your data"))
    first = np.asarray(view.frames[0]["target_xy"])
    assert np.allclose(np.c_[ghost.x, ghost.y], first)
    assert len(path.x) == len(view.frames)  # one point per frame, the last where the cloud is now
    assert np.allclose([path.x[-1], path.y[-1]], np.asarray(view.frames[-1]["target_xy"]).mean(axis=0), atol=1e-5)
    assert "centre of the source" in names
    x0, x1 = fig.layout.xaxis.range  # the axes hold the ghost too
    assert x0 <= first[:, 0].min() and x1 >= first[:, 0].max()


def test_a_method_switch_starts_a_new_trail():
    frames = [RunView()] and [dict(f, source_xy=np.asarray(f["source_xy"]), target_xy=np.asarray(f["target_xy"]))
                              for f in (_frame(0, 0), _frame(1, 0), _frame(2, 0, method="umap"), _frame(3, 0, method="umap"))]
    assert motion.trail_start(frames, 3) == 2 and motion.trail_start(frames, 1) == 0


def test_the_scrubber_steps_back_to_an_earlier_frame_and_follows_live_again():
    visitor = Visitor()
    visitor.view.apply_all(_run(0.9))
    fig = live.scrub(visitor, 1)
    assert visitor.view.scrub == 1 and "step 1" in fig.layout.title.text
    update = live.scrub_update(visitor)
    assert update["maximum"] == len(visitor.view.frames) - 1 and "value" not in update
    fig, update = live.follow_live(visitor)
    assert visitor.view.scrub is None and f"step {len(visitor.view.frames) - 1}" in fig.layout.title.text
    assert update["value"] == len(visitor.view.frames) - 1


# -- lessons ------------------------------------------------------------------------------------------

@pytest.fixture
def lesson_dir(tmp_path, monkeypatch):
    folder = tmp_path / "lessons" / "toy"
    folder.mkdir(parents=True)
    write_events_gz(folder / "aligned.jsonl.gz", compact_events(_run(0.95)))
    write_events_gz(folder / "no-align.jsonl.gz", compact_events(_run(0.80, objective="none")))
    (folder / "lesson.json").write_text(json.dumps({
        "title": "Toy lesson", "summary": "two runs", "data": "digits", "order": 1,
        "runs": {"aligned": {"events": "aligned.jsonl.gz"}, "no-align": {"events": "no-align.jsonl.gz"}}}))
    monkeypatch.setattr(engine_lessons, "LESSONS_DIR", tmp_path / "lessons")
    return tmp_path / "lessons"


def test_compacting_keeps_every_event_but_thins_frames_and_points():
    records = _run(0.9, frames=60)
    for r in records:
        if r["type"] == "projection":
            r["source_xy"] = np.random.default_rng(0).normal(size=(400, 2)).tolist()
            r["source_labels"] = [0] * 400
    small = compact_events(records, max_frames=10, max_points=50)
    frames = [r for r in small if r["type"] == "projection"]
    assert len(frames) == 10 and all(len(f["source_xy"]) == 50 and len(f["target_xy"]) == 20 for f in frames)
    assert frames[0]["step"] == 0 and frames[-1]["step"] == 59  # first and last kept
    assert [r["index"] for r in small] == list(range(len(small)))
    assert len([r for r in small if r["type"] != "projection"]) == len([r for r in records if r["type"] != "projection"])


def test_a_fresh_page_plays_the_first_lesson_at_once(lesson_dir):
    visitor = Visitor()
    note, summary, timer, name = lessons.autoplay(visitor)
    assert name["value"] == "toy" and "Toy lesson" in note and summary == "two runs" and timer.active
    assert visitor.replay is not None and set(visitor.pair) == {"aligned", "no-align"}
    live.poll(visitor)  # the first records are due at once: the view starts filling immediately
    assert visitor.view.run_id == "r" and visitor.view.cursor > 0


def test_a_page_with_a_run_is_not_interrupted_by_a_lesson(lesson_dir):
    visitor = Visitor(run_id="someone's-run")
    assert visitor.replay is None and all(u == {"__type__": "update"} or u is not None for u in lessons.autoplay(visitor))
    assert visitor.replay is None


def test_an_unknown_lesson_names_the_installed_ones(lesson_dir):
    from orca_engine.errors import RunError
    with pytest.raises(RunError, match="toy"):
        load_lesson("nope")


def _play_to_the_end(visitor):
    lessons.play(visitor, "toy")
    for side in visitor.pair.values():
        side.replay.started -= 1e6  # the clock jumps to the end
    visitor.replay.started -= 1e6
    live.poll(visitor)


def test_the_reveal_reads_the_pair_numbers(lesson_dir):
    visitor = Visitor()
    assert lessons.reveal(visitor, None) == lessons.messages.REVEAL_NEEDS_PAIR
    _play_to_the_end(visitor)
    answer = lessons.reveal(visitor, "A little")
    assert "A little" in answer and "0.95" in answer and "0.8" in answer and "+0.15" in answer
    assert "alignment helped" in answer  # 0.15 on 360 samples is far beyond the noise (about 0.025)
    assert "9 to 3" in answer and "logistic" in answer
    rows = lessons.pair_rows(visitor)
    assert [r[0] for r in rows] == ["aligned (ORCA)", "no alignment", "baseline: logistic"]
    assert rows[0][3] == "0.95" and rows[1][3] == "0.8" and rows[2][3] == "0.91"
    fig = lessons.pair_figure(visitor)
    assert [t.name for t in fig.data] == ["aligned (ORCA)", "no alignment"] and list(fig.data[1].y) == pytest.approx([0.7, 0.8])


def test_a_gap_within_the_test_noise_is_called_no_clear_difference(lesson_dir, tmp_path):
    folder = lesson_dir / "toy"
    write_events_gz(folder / "no-align.jsonl.gz", compact_events(_run(0.94, objective="none")))
    visitor = Visitor()
    _play_to_the_end(visitor)
    assert "No clear difference" in lessons.reveal(visitor, None)
    write_events_gz(folder / "no-align.jsonl.gz", compact_events(_run(0.99, objective="none")))
    visitor = Visitor()
    _play_to_the_end(visitor)
    assert "did not help" in lessons.reveal(visitor, None)


def test_the_guide_follows_the_stage_and_names_the_claim_and_the_formula(lesson_dir):
    visitor = Visitor()
    lessons.play(visitor, "toy")
    visitor.view.apply({"index": 0, "type": "stage_started", "stage": "align"})
    text = lessons.guide(visitor)
    assert "ICML 2023" in text and "W(y, y′)" in text and "ghost" in text
    visitor.view.apply({"index": 1, "type": "finished"})
    assert "predict" in lessons.guide(visitor)


# -- slides and share links -----------------------------------------------------------------------

def test_the_gif_animates_the_recorded_frames_with_a_stated_size_and_time(tmp_path):
    from PIL import Image
    from app import slides
    view = _view(_run(0.9, frames=5))
    animation = slides.projection_gif(view.frames, tmp_path / "a.gif")
    with Image.open(animation.path) as gif:
        assert gif.size == (slides.SIZE, slides.SIZE) and gif.n_frames == 5 == animation.frames
        first = np.asarray(gif.convert("RGB"))
        gif.seek(4)
        last = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(first, last)  # the cloud moved
    assert animation.seconds == pytest.approx((4 * slides.FRAME_MS + slides.HOLD_MS) / 1000)
    assert "480×480 px, 5 frames" in animation.describe()
    with pytest.raises(ValueError, match="align first"):
        slides.projection_gif([], tmp_path / "b.gif")


def test_the_figures_come_as_png(tmp_path):
    from app import slides
    written = slides.figure_pngs(_view(_run(0.9)), tmp_path)
    assert [p.name for p in written] == ["projection.png", "alignment_objective.png", "training_curves.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)


class _Request:
    def __init__(self, query=None, headers=None):
        self.query_params, self.headers = query or {}, headers or {}


def test_a_share_link_opens_a_read_only_replay_for_anyone(tmp_path, monkeypatch, fake_session):
    from app import classroom, handlers, share
    from app import server
    monkeypatch.setattr(server, "runs_dir", lambda: tmp_path)
    owner = Visitor()
    owner.replay_events("r", _run(0.9))
    text = classroom.make_share_link(owner, _Request(headers={"origin": "https://teacher.hf.space"}))
    share_id = text.split("`")[-2]
    assert share.SHARE_ID.match(share_id) and f"https://teacher.hf.space/?run={share_id}" in text
    assert share_id != classroom.make_share_link(owner, _Request()).split("`")[-2]  # a new id each time

    student = Visitor()  # a second browser: another owner, opening the link
    note, _, timer, _ = lessons.autoplay(student, _Request(query={"run": share_id}))
    assert "read-only" in note and timer.active and student.run_id == ""
    student.replay.started -= 1e6
    live.poll(student)
    assert student.view.test_metrics == {"accuracy": 0.9}
    for control in (handlers.pause, handlers.stop, handlers.step, handlers.resume):  # nothing to control
        with pytest.raises(Exception, match="no run to control"):
            control(student)
    assert fake_session.calls == []


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "x" * 22 + "/", None, 42, "AAAAAAAAAAAAAAAAAAAAAA"])
def test_a_wrong_share_id_opens_nothing(tmp_path, bad):
    from app import share
    share.create(tmp_path, [{"type": "run_started"}])
    assert share.load(tmp_path, bad) is None


def test_shares_are_bounded(tmp_path, monkeypatch):
    from app import share
    monkeypatch.setattr(share, "MAX_SHARES", 3)
    ids = [share.create(tmp_path, [{"type": "run_started", "i": i}]) for i in range(5)]
    assert len(list(share.folder(tmp_path).glob("*.jsonl.gz"))) == 3
    assert share.load(tmp_path, ids[-1]) is not None


# -- the pair in one click, through the classroom ----------------------------------------------------

def _pair_stage(name):
    from orca_engine.events import StageFinished, StageStarted, StepLogged, ValidationLogged

    def stage(ctx):
        yield StageStarted(name, total_steps=2)
        aligned = ctx.config.align.objective != "none"
        for i in (1, 2):
            ctx.control.checkpoint()
            yield StepLogged(name, i, 2, loss=1.0 / i)
        if name == "refine":
            yield ValidationLogged("refine", 1.0, {"accuracy": 0.85 if aligned else 0.7})
        metrics = {"test": {"accuracy": 0.9 if aligned else 0.8}} if name == "evaluate" else {}
        if name == "evaluate":
            ctx.metrics["test"] = metrics["test"]
        yield StageFinished(name, metrics=metrics)
    return stage


def test_align_vs_no_align_in_one_click_is_shared_by_the_class(tmp_path, monkeypatch, request):
    import time
    from app import classroom, data_step, server
    from orca_engine.session import Session
    from orca_engine.stages import STAGES
    monkeypatch.setitem(STAGES._items, "prepare", lambda ctx: iter([]))
    for name in ("align", "refine", "evaluate"):
        monkeypatch.setitem(STAGES._items, name, _pair_stage(name))
    previous = server.install(Session(runs_dir=tmp_path, live_projection=False))
    request.addfinalizer(lambda: server.install(previous))
    monkeypatch.setattr(classroom, "_shared", None)

    first = Visitor()
    data_step.use_example(first, "iris")
    status, timer = lessons.start_pair(first, {"model.backbone": "tiny-bert"})
    assert timer.active and "aligned (ORCA)" in status and "no alignment" in status
    runs = {role: side.run_id for role, side in first.pair.items()}
    assert set(runs) == {"aligned", "no-align"} and len(set(runs.values())) == 2
    configs = {role: server.session().config(run_id) for role, run_id in runs.items()}
    assert configs["aligned"].align.objective == "otdd-exact" and configs["no-align"].align.objective == "none"
    assert configs["aligned"].seed == configs["no-align"].seed
    assert configs["aligned"].refine == configs["no-align"].refine  # same budget
    deadline = time.monotonic() + 60
    while lessons.pair_active(first):
        assert time.monotonic() < deadline, "the pair never finished"
        live.poll(first)
        time.sleep(0.05)
    live.poll(first)
    assert "0.9" in lessons.reveal(first, "Yes, clearly") and "0.8" in lessons.reveal(first, None)

    second = Visitor()  # a classmate asking for the same pair: both replay, nothing is computed
    data_step.use_example(second, "iris")
    _wait_cached = time.monotonic() + 30
    while len(classroom.shared().cache.keys()) < 2:
        assert time.monotonic() < _wait_cached
        time.sleep(0.05)
    status, _ = lessons.start_pair(second, {"model.backbone": "tiny-bert"})
    assert status.count("Replaying an identical run") == 2
    assert all(side.replay is not None and not side.run_id for side in second.pair.values())
    assert len(server.session().runs()) == 2


def test_a_replay_says_when_and_whether_a_fresh_run_could_differ():
    from app import classroom
    from orca_engine.shared_runs import Ticket
    ticket = Ticket("replay", "r", "k" * 64, (), finished_at=1_700_000_000.0, note="align stopped by align.max_seconds")
    text = classroom.replay_note(ticket, 30)
    assert "finished at" in text and "30 s" in text and "align.max_seconds" in text
    assert "could go further" not in classroom.replay_note(Ticket("replay", "r", "k" * 64, (), 1_700_000_000.0), 30)
