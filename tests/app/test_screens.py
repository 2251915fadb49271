"""What the screens say, without a browser: numbers with context, pictures that read, a poll that never stalls."""
from __future__ import annotations

import time

import gradio as gr
import pytest

from app import glossary, live, messages, page, render
from app.state import RunView, Visitor

ALIGN_RUN = [
    {"type": "run_started", "run_id": "r1", "run_dir": "/nonexistent/r1",
     "config": {"data": {"source": "iris"}, "model": {"backbone": "tiny-bert"}}},
    {"type": "stage_started", "stage": "align", "total_steps": 3},
    {"type": "step", "stage": "align", "step": 1, "loss": 2.0, "time": 100.0},
]


def distances(step: int, scale: float) -> dict:
    return {"type": "class_distances", "stage": "align", "step": step, "matrix": [[scale, 2 * scale]],
            "target_classes": ["a"], "source_classes": ["noun.artifact", "verb.motion"]}


def test_heatmap_keeps_one_colour_scale_across_a_run_and_names_source_classes_in_words():
    view = RunView()
    view.apply_all([distances(0, 10.0)])
    first = render.heatmap_figure(view)
    view.apply_all([distances(40, 1.0)])
    later = render.heatmap_figure(view)
    assert (first.data[0].zmin, first.data[0].zmax) == (10.0, 20.0)
    assert (later.data[0].zmin, later.data[0].zmax) == (1.0, 20.0)  # step 40's cells look closer than step 0's
    assert list(later.data[0].x) == ["nouns: man-made things", "verbs: moving"]
    assert "step 40" in later.layout.title.text


def test_every_wordnet_class_has_plain_words_and_other_names_pass_through():
    from orca_engine.sources.wordnet import LEXNAMES
    for name in LEXNAMES:
        words = glossary.plain_source_class(name)
        assert words != name and "." not in words, name
    assert glossary.plain_source_class("airplane") == "airplane"


def test_the_loss_curve_marks_the_step_the_heatmap_shows():
    view = RunView()
    view.apply_all([*ALIGN_RUN, distances(1, 1.0)])
    fig = render.align_loss_figure(view)
    assert [shape.x0 for shape in fig.layout.shapes] == [1]


def test_objective_none_says_no_alignment_instead_of_zero_to_zero():
    text = render.align_summary({"objective": "none", "objective_before": 0.0, "objective_after": 0.0, "steps": 0})
    assert text == messages.ALIGNED_NONE and "+0%" not in text


def test_eta_follows_the_measured_step_rate():
    view = RunView()
    view.apply_all([*ALIGN_RUN, {"type": "step", "stage": "align", "step": 11, "loss": 1.0, "time": 120.0}])
    assert view.seconds_per_step() == pytest.approx(2.0)

    class Status:
        state, stage, step, total, elapsed_s, eta_s, queue_position, error = "running", "align", 11, 61, 30.0, 5.0, 0, ""
    text = render.progress_text(Status(), view.seconds_per_step())
    assert "ETA 1:40" in text and "2 s/step" in text  # 50 steps left at 2 s, not the session's average


def test_a_chance_level_result_is_drawn_as_a_warning_and_a_good_one_is_not():
    def headline(accuracy: float) -> str:
        view = RunView()
        view.apply_all([{"type": "stage_finished", "stage": "evaluate",
                         "metrics": {"test": {"accuracy": accuracy},
                                     "test_reference": {"majority_class_rate": 0.9, "chance": 0.5}}}])
        return render.metrics_headline(view)
    assert 'class="orca-warning"' in headline(0.9) and "no better than always" in headline(0.9)
    assert "orca-warning" not in headline(0.97)


def test_the_watchdog_restarts_a_poll_that_stopped_while_the_run_goes_on(fake_session):
    fake_session.add_run("r1", "alice", ALIGN_RUN, step=1)
    visitor = Visitor(owner="alice")
    visitor.watch("r1")
    live.poll(visitor)
    assert live.watchdog(visitor) == gr.skip()  # the poll is alive
    visitor.last_poll = time.time() - 2 * live.WATCHDOG_SECONDS
    restarted = live.watchdog(visitor)
    assert isinstance(restarted, gr.Timer) and restarted.active is True
    fake_session.statuses["r1"].state = "finished"
    assert live.watchdog(visitor) == gr.skip()  # nothing to follow any more


def test_a_late_poll_catches_up_on_every_event_it_missed(fake_session):
    fake_session.add_run("r1", "alice", ALIGN_RUN, step=1)
    visitor = Visitor(owner="alice")
    visitor.watch("r1")
    live.poll(visitor)
    fake_session.records["r1"].extend({"index": 3 + i, "time": 101.0 + i, "type": "step", "stage": "align",
                                       "step": 2 + i, "loss": 1.0} for i in range(30))
    soon = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert visitor.view.align_steps[-1] == 31 and soon["loss_plot"] == gr.skip()  # redrawn at most once a second
    visitor.redrawn_at = {name: t - live.FIGURE_MIN_INTERVAL_S for name, t in visitor.redrawn_at.items()}
    later = dict(zip(live.POLL_OUTPUTS, live.poll(visitor)))
    assert later["loss_plot"] != gr.skip() and list(later["loss_plot"].data[0].x)[-1] == 31


def test_new_data_retires_the_shown_run_and_every_result_output_is_reset(fake_session):
    fake_session.add_run("r1", "alice", [*ALIGN_RUN, {"type": "finished", "metrics": {}}], state="finished")
    visitor = Visitor(owner="alice", data_source="iris")
    visitor.watch("r1")
    live.poll(visitor)
    assert page.results_follow_data(visitor) == ""  # the same data: the run stays
    visitor.data_source = "wine"
    note = page.results_follow_data(visitor)
    assert "r1" in note and visitor.run_id == "" and "r1" in visitor.past_runs
    out = dict(zip((*live.POLL_OUTPUTS, *page.EXTRA_OUTPUTS), page.render_results(visitor)))
    assert out["align_status"] == messages.NO_RUN and out["test_status"] == messages.NO_TEST_YET
    assert out["prediction"] == [] and out["export_zip"] is None and out["export_command"] == ""
    assert all(out[name] != gr.skip() for name in ("loss_plot", "test_plot", "test_metrics"))


def test_glossary_has_an_anchor_for_every_term_the_steps_link_to():
    import re
    text = glossary.glossary_markdown()
    linked = set(re.findall(r"#glossary-(\w+)", " ".join(t for _, t in messages.STEPS.values()) + messages.INTRO))
    assert linked and all(f'id="glossary-{key}"' in text for key in linked)
    assert glossary.PAPER in text


def test_a_result_within_two_standard_errors_of_the_majority_rate_is_marked_too():
    view = RunView()
    view.apply_all([{"type": "stage_finished", "stage": "prepare", "metrics": {"dataset": {"splits": {"test": 359}}}},
                    {"type": "stage_finished", "stage": "evaluate",
                     "metrics": {"test": {"accuracy": 0.1086}, "test_reference": {"majority_class_rate": 0.1003}}}])
    assert "within chance" in render.metrics_headline(view)
    view.stage_metrics["evaluate"]["test"]["accuracy"] = 0.5
    assert "orca-warning" not in render.metrics_headline(view)


def test_the_estimate_before_start_counts_steps_and_uses_the_last_measured_rate(monkeypatch):
    visitor = Visitor(owner="alice", data_source="iris")
    values = {"model.backbone": "tiny-bert", "align.steps": 40, "refine.epochs": 2, "refine.batch_size": 16}
    monkeypatch.setattr(live, "STEP_RATES", {})
    align, refine = page.estimate(visitor, values)
    assert "up to 40 steps" in align and "once a run on tiny-bert has measured" in align
    assert "refinement about" in refine
    monkeypatch.setattr(live, "STEP_RATES", {("tiny-bert", "align"): 0.5, ("tiny-bert", "refine"): 1.0})
    align, _ = page.estimate(visitor, values)
    assert "about 0:20 on this server" in align  # 40 steps at 0.5 s
    assert page.estimate(Visitor(), values) == ("", "")  # no data yet: nothing to estimate
