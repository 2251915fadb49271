"""Handlers as plain functions: errors become page messages, runs are the visitor's own, polls redraw sparingly."""
import json
import time
import zipfile

import gradio as gr
import pytest

from app import data_step, handlers, live, messages, server
from app.friendly import friendly
from app.state import Visitor
from orca_engine.errors import ConfigError, DataError

ALIGN_RUN = [
    {"type": "run_started", "run_id": "r1", "run_dir": "", "config": {}},
    {"type": "stage_started", "stage": "align", "total_steps": 3},
    {"type": "step", "stage": "align", "step": 1, "total": 3, "loss": 2.0, "metrics": {}},
]


def test_engine_errors_read_as_sentences():
    assert friendly(DataError("no label column")) == f"{messages.ERROR_PREFIX['DataError']}: no label column"
    assert friendly(ConfigError("x")).startswith(messages.ERROR_PREFIX["ConfigError"])


@pytest.mark.parametrize("name, content", [("rows.xyz", b"a,b\n1,2\n"), ("broken.npy", b"not numpy at all"),
                                           ("empty.csv", b"")])
def test_bad_upload_shows_an_error_next_to_the_upload(upload, name, content):
    status, *previews, picker = data_step.read_upload(Visitor(), upload(name, content))
    assert "orca-error" in status and messages.ERROR_PREFIX["DataError"] in status
    assert all(p.get("visible") is False for p in previews)


def test_csv_upload_offers_its_columns_and_guesses_the_label(upload):
    rows = "\n".join(f"{i % 7},{i % 5 * 0.5},{'ab'[i % 2]}" for i in range(60))
    path = upload("plants.csv", "height,width,species\n" + rows + "\n")
    visitor = Visitor()
    status, counts, gallery, plot, table, picker = data_step.read_upload(visitor, str(path))
    assert "orca-error" not in status and "tabular" in status
    assert picker["choices"] == ["height", "width", "species"] and picker["value"] == "species"
    assert table["visible"] is True and counts["visible"] is True
    assert visitor.data_source == path and visitor.label_column == "species" and visitor.source_name == "plants.csv"


def test_example_summary_states_modality_task_and_classes():
    status, counts, gallery, plot, table = data_step.use_example(Visitor(), "digits")
    assert "digits" in status and "classification" in status and "10 classes" in status
    assert len(counts["value"]) == 10 and gallery["visible"] is True


def test_start_without_data_is_a_message_not_a_crash():
    with pytest.raises(gr.Error, match="step 1"):
        handlers.start_align(Visitor(), {})


def test_out_of_range_option_names_the_field():
    visitor = Visitor(data_source="digits")
    with pytest.raises(gr.Error, match="align.steps"):
        handlers.start_align(visitor, {"align.steps": -1})


def test_config_handler_exposes_option_names_to_the_api():
    import inspect
    fn = handlers.config_handler(["align.steps", "refine.lr"], handlers.start_align)
    assert list(inspect.signature(fn).parameters) == ["visitor", "align_steps", "refine_lr"]


def test_controls_need_a_run_of_ones_own(fake_session):
    with pytest.raises(gr.Error, match=messages.NO_ACTIVE_RUN[:20]):
        handlers.pause(Visitor())
    fake_session.add_run("r1", "alice", ALIGN_RUN)
    mallory = Visitor(owner="mallory", run_id="r1")
    with pytest.raises(gr.Error, match="another visitor"):
        handlers.stop(mallory)
    with pytest.raises(gr.Error, match=messages.NOT_YOUR_RUN[:20]):
        handlers.replay(Visitor(owner="mallory"), "r1")
    assert fake_session.calls == []
    handlers.pause(Visitor(owner="alice", run_id="r1"))
    assert fake_session.calls == [("pause", "r1")]


def test_poll_redraws_only_what_changed_and_stops_when_the_run_ends(fake_session):
    fake_session.add_run("r1", "alice", ALIGN_RUN, step=1)
    visitor = Visitor(owner="alice")
    visitor.watch("r1")
    first = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert "step 1/3" in first["align_status"]
    assert first["loss_plot"] is not gr.skip() and first["timer"] == gr.skip()
    assert first["run_pause"]["interactive"] is True and first["run_bar"]["visible"] is True
    assert "Step 3, aligning" in first["run_status"]
    second = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert second["loss_plot"] == gr.skip() and second["run_pause"] == gr.skip()
    assert second["align_status"] == gr.skip() and second["run_status"] == gr.skip()  # nothing new: nothing sent
    fake_session.records["r1"].append({"index": 3, "time": 0.0, "type": "cancelled", "stage": "align"})
    fake_session.statuses["r1"].state = "cancelled"
    last = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert isinstance(last["timer"], gr.Timer) and last["timer"].active is False
    assert last["run_pause"]["interactive"] is False and last["run_bar"]["visible"] is False


def test_replay_reads_events_from_a_run_zip(tmp_path, fake_session, upload):
    archive = tmp_path / "run.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("run/events.jsonl", "".join(json.dumps({"index": i, **r}) + "\n" for i, r in enumerate(ALIGN_RUN)))
    archive = upload("run.zip", archive.read_bytes())
    visitor = Visitor()
    status, timer = handlers.replay(visitor, None, str(archive))
    assert "run.zip" in status and timer.active is True
    deadline = time.monotonic() + 30
    while visitor.replay is not None:  # replays play at watching speed (app/replay.py)
        assert time.monotonic() < deadline, "the replay never ended"
        live.poll(visitor)
        time.sleep(0.02)
    assert visitor.view.align_losses == [2.0]


def test_replay_refuses_files_without_events(upload):
    junk = upload("events.jsonl", "hello\n")
    with pytest.raises(gr.Error, match=messages.BAD_REPLAY_FILE[:20]):
        handlers.replay(Visitor(), None, junk)


def test_umap_note_says_whether_umap_is_ready_starting_or_unavailable(monkeypatch):
    from orca_engine import projection
    monkeypatch.setattr(projection, "is_umap_ready", lambda: True)
    assert handlers.set_projection(Visitor(), "umap") == messages.PROJECTION_NOTES["umap"]
    monkeypatch.setattr(projection, "is_umap_ready", lambda: False)
    monkeypatch.setattr(projection, "warm_up_umap_in_background", lambda: object())
    assert messages.UMAP_STARTING in handlers.set_projection(Visitor(), "umap")
    monkeypatch.setattr(projection, "warm_up_umap_in_background", lambda: None)
    monkeypatch.setattr(projection, "umap_unavailable_reason", lambda: "ModuleNotFoundError: No module named 'umap'")
    note = handlers.set_projection(Visitor(), "umap")
    assert "not available" in note and "No module named 'umap'" in note
    assert handlers.set_projection(Visitor(), "pca") == messages.PROJECTION_NOTES["pca"]


def test_the_projection_picked_before_a_run_is_used_by_it_and_survives_a_reload(fake_session, monkeypatch):
    from orca_engine import projection
    monkeypatch.setattr(projection, "is_umap_ready", lambda: True)
    visitor = Visitor()
    data_step.use_example(visitor, "digits")
    handlers.set_projection(visitor, "umap")  # picked while no run exists yet
    start = handlers.config_handler(["align.steps"], handlers.start_align)
    start(visitor, 3)
    assert fake_session.calls[-1] == ("start", visitor.run_id, ("align",), "umap")
    assert visitor.remembered()["projection"] == "umap"

    reloaded = Visitor()  # a reloaded page: a fresh visitor, the browser's memory
    out = handlers.restorer(["align.steps"])({"owner": "someone", "run_id": "", "projection": "umap"}, reloaded)
    assert reloaded.projection_method == "umap" and out[2] == "umap"
    out = handlers.restorer(["align.steps"])({"owner": "someone", "run_id": ""}, Visitor())  # older memory
    assert out[2] == gr.skip()


def test_align_progress_says_when_umap_frames_are_still_pca(fake_session, monkeypatch):
    fake_session.add_run("r1", "alice", ALIGN_RUN, step=1)
    visitor = Visitor(owner="alice", projection_method="umap")
    visitor.watch("r1")
    monkeypatch.setattr(live, "umap_ready", lambda: False)
    assert messages.UMAP_STARTING_SHORT in live.align_status(visitor, fake_session.status("r1"))
    monkeypatch.setattr(live, "umap_ready", lambda: True)
    assert messages.UMAP_STARTING_SHORT not in live.align_status(visitor, fake_session.status("r1"))
    visitor.projection_method = "pca"
    monkeypatch.setattr(live, "umap_ready", lambda: False)
    assert messages.UMAP_STARTING_SHORT not in live.align_status(visitor, fake_session.status("r1"))


def test_a_closed_page_frees_its_finished_run_later_unless_a_reload_reattaches(fake_session, monkeypatch):
    import time
    monkeypatch.setattr(server, "RELEASE_GRACE_S", 0.3)
    for run_id in ("gone", "reloaded", "running"):
        fake_session.add_run(run_id, "alice", ALIGN_RUN, state="running" if run_id == "running" else "finished")
    for run_id in ("gone", "reloaded", "running"):
        visitor = Visitor(owner="alice")
        visitor.watch(run_id)
        server.visitor_left(visitor)  # the page closed (a reload closes the old page too)
    alice = Visitor(owner="alice", run_id="reloaded")
    handlers.restorer([])(handlers.remember(alice), Visitor())  # the reloaded page, with its signed note
    assert ("release", "gone") not in fake_session.calls, "not at once: a reload may still come"
    deadline = time.time() + 30  # the timers were set together: when "gone" is released, the others have fired
    while ("release", "gone") not in fake_session.calls and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # margin for a timer that fired at the same moment and is still running
    released = [run_id for verb, run_id, *_ in fake_session.calls if verb == "release"]
    assert released == ["gone"], "the re-attached run and the running one must stay"


def test_tune_starts_a_tune_then_evaluate_run_and_its_trials_fill_the_table(fake_session):
    visitor = Visitor(owner="alice", data_source="iris")
    handlers.start_tune(visitor, {"tune.trials": 3})
    assert fake_session.calls[-1][2] == ("tune", "evaluate")
    run_id = fake_session.calls[-1][1]
    trial = {"type": "trial", "stage": "tune", "trial": 1, "total": 3, "value": 0.9, "metrics": {"accuracy": 0.9},
             "seconds": 4.2, "best": True, "params": {"refine.lr": 1e-4, "refine.batch_size": 8}}
    fake_session.records[run_id].extend([{"index": 0, "time": 0.0, "type": "stage_started", "stage": "tune",
                                          "total_steps": 3}, {"index": 1, "time": 0.0, **trial}])
    fake_session.statuses[run_id].state = "running"
    out = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert out["trial_table"] == [[1, 0.9, "✓", 4.2, "refine.lr=0.0001, refine.batch_size=8"]]
    again = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert again["trial_table"] == gr.skip()


def test_tune_respects_the_public_trial_limit(fake_session):
    with pytest.raises(gr.Error, match="tune.trials"):
        handlers.start_tune(Visitor(owner="bob", data_source="iris"), {"tune.trials": 10_000})
    assert fake_session.calls == []


def test_the_test_step_puts_the_result_beside_chance_and_the_baselines():
    from app import render
    from app.state import RunView
    view = RunView()
    view.stage_metrics["evaluate"] = {
        "test": {"accuracy": 0.5}, "test_reference": {"majority_class_rate": 0.5},
        "baselines": {"results": [{"model": "MiniRocket", "test": {"accuracy": 0.88}}],
                      "verdict": {"beat": False, "margin": -0.38, "text": "ORCA did not beat the best baseline"}}}
    headline = render.metrics_headline(view)
    assert "no better than always answering the most frequent class" in headline
    assert "did not beat the best baseline" in headline and "⚠" in headline
    rows = render.test_metric_rows(view)
    assert ["baseline: MiniRocket (accuracy)", 0.88] in rows
    assert any(r[0].startswith("always the most frequent class") for r in rows)
