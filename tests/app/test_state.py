"""RunView folds event records into the arrays the page draws; Visitor tracks what was drawn."""
from app.state import RunView, Visitor


def records():
    raw = [
        {"type": "run_started", "run_id": "r1", "run_dir": "/tmp/r1", "config": {"seed": 0}},
        {"type": "stage_started", "stage": "align", "total_steps": 3},
        {"type": "step", "stage": "align", "step": 1, "total": 3, "loss": 2.0, "metrics": {}},
        {"type": "projection", "stage": "align", "step": 1, "method": "pca", "source_xy": [[0, 0]],
         "target_xy": [[1, 1]], "source_labels": [0], "target_labels": [1]},
        {"type": "step", "stage": "align", "step": 2, "total": 3, "loss": 1.5, "metrics": {}},
        {"type": "warning", "stage": "align", "message": "objective is noisy"},
        {"type": "stage_finished", "stage": "align", "metrics": {"objective_before": 2.0, "objective_after": 1.5}},
        {"type": "stage_started", "stage": "refine", "total_steps": 2},
        {"type": "step", "stage": "refine", "step": 1, "total": 2, "loss": 0.9, "metrics": {"epoch": 1}},
        {"type": "validation", "stage": "refine", "epoch": 1, "metrics": {"accuracy": 0.7, "note": "x"}, "best": True},
        {"type": "stage_finished", "stage": "evaluate", "metrics": {"test": {"accuracy": 0.8}}},
        {"type": "finished", "metrics": {"accuracy": 0.8}},
    ]
    return [{"index": i, "time": 0.0, **r} for i, r in enumerate(raw)]


def test_fold_collects_curves_frames_and_metrics():
    view = RunView()
    view.apply_all(records())
    assert (view.run_id, view.run_dir) == ("r1", "/tmp/r1")
    assert view.align_steps == [1, 2] and view.align_losses == [2.0, 1.5]
    assert view.refine_losses == [0.9] and view.val_metrics == {"accuracy": [0.7]}
    assert view.projection["target_xy"] == [[1, 1]]
    assert view.test_metrics == {"accuracy": 0.8}
    assert view.outcome == "finished" and view.cursor == len(records())
    assert view.warnings == ["align: objective is noisy"]


def test_fold_is_idempotent_for_records_already_seen():
    view = RunView()
    view.apply_all(records()[:5])
    view.apply_all(records())  # a re-read from index 0 (e.g. after the server released the run)
    assert view.align_losses == [2.0, 1.5]


def test_failure_keeps_the_message():
    view = RunView()
    view.apply({"index": 0, "type": "failed", "error": "DataError", "message": "bad column"})
    assert view.outcome == "failed" and view.error == "bad column"


def test_visitor_redraws_each_change_once_and_resets_on_a_new_run():
    visitor = Visitor()
    visitor.watch("r1")
    assert visitor.needs_redraw("loss_plot", "align")  # first draw (placeholder)
    assert not visitor.needs_redraw("loss_plot", "align")
    visitor.view.apply_all(records()[:3])
    assert visitor.needs_redraw("loss_plot", "align")
    assert not visitor.needs_redraw("loss_plot", "align")
    visitor.watch("r2")
    assert visitor.view.align_losses == [] and visitor.needs_redraw("loss_plot", "align")
    assert visitor.remembered() == {"owner": visitor.owner, "run_id": "r2", "projection": "pca"}


def test_two_visitors_get_different_owners():
    assert Visitor().owner != Visitor().owner


def test_each_session_gets_its_own_visitor_and_no_event_replaces_it():
    """A callable gr.State value runs as a page-load event that replaces the state: an earlier click
    (or the reload restore) then lost what it set. The page must not have such an event."""
    import copy

    import gradio as gr

    from app.state import FreshVisitor
    from app.ui import build_ui
    first, second = copy.deepcopy(FreshVisitor()), copy.deepcopy(FreshVisitor())
    assert isinstance(first, Visitor) and first.owner != second.owner
    demo = build_ui(warm_up_umap=False)
    (state,) = [b for b in demo.blocks.values() if isinstance(b, gr.State) and isinstance(b.value, FreshVisitor)]
    assert not [fn.name for fn in demo.fns.values() if state in fn.outputs]


def test_start_presses_have_their_own_wider_queue_and_polls_none():
    """A class presses Start together: the Starts (validate, hand over, or replay) must not wait in
    the default queue of 4; the polls are never queued."""
    from app.ui import START_CONCURRENCY, build_ui
    demo = build_ui(warm_up_umap=False)
    by_api = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    starts = [by_api[name] for name in ("start_align", "start_refine", "start_tune")]
    assert all(fn.concurrency_id == "start" and fn.concurrency_limit == START_CONCURRENCY for fn in starts)
    assert START_CONCURRENCY > demo._queue.default_concurrency_limit >= 1  # the default queue, for the rest
    assert by_api["run_summary"].concurrency_limit is None
