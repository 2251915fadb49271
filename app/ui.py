"""build_ui(): the one-page flow (six steps) wired to the handlers. No launching here (see app.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from orca_engine.session import Session, warm_up_projection

from . import classroom, data_step, handlers, lessons, live, messages, page, server
from .friendly import shows_errors
from .glossary import glossary_markdown
from .state import FreshVisitor
from .tabs import align, backbone, compare, data, export, lesson, refine, runbar, share, test
from .tabs.backbone import backbone_summary

ASSETS = Path(__file__).resolve().parent.parent / "assets"
POLL_SECONDS = 0.5
PRIVATE = {"api_visibility": "private"}
QUIET = {"show_progress": "hidden", **PRIVATE}


def launch_options() -> dict[str, Any]:
    """Keyword arguments for demo.launch(): styling and the stated upload limit. Run folders are not
    in `allowed_paths`: their files reach a visitor only through handlers that check ownership."""
    server.runs_dir().mkdir(parents=True, exist_ok=True)
    return {"css_paths": [ASSETS / "style.css"], "max_file_size": f"{messages.MAX_UPLOAD_MB}mb",
            "footer_links": ["api"]}


def build_ui(session: Session | None = None, warm_up_umap: bool = True) -> gr.Blocks:
    """The whole page. `session` becomes the server's Session (default: one made from the settings,
    app/server.py); `warm_up_umap=False` skips compiling UMAP in the background (tests)."""
    if session is not None:
        server.install(session)
    if warm_up_umap:
        warm_up_projection()  # so the first UMAP frame does not stall a run
    with gr.Blocks(title=messages.TITLE) as demo:
        visitor = gr.State(None, delete_callback=server.visitor_left)
        visitor.value = FreshVisitor()  # after __init__, which would deep-copy it once for everyone
        remembered = gr.BrowserState({"owner": "", "run_id": "", "projection": "", "token": ""},
                                     storage_key="orca-explorer-visitor")
        timer = gr.Timer(POLL_SECONDS, active=False)
        watchdog = gr.Timer(live.WATCHDOG_SECONDS)
        gr.Markdown(messages.INTRO, elem_id="intro")
        lesson_ui = lesson.build()  # the page opens on a lesson that plays at once (app/lessons.py)
        steps = {"lesson": lesson_ui, "data": data.build(), "backbone": backbone.build(), "align": align.build(),
                 "refine": refine.build(), "test": test.build(), "export": export.build(), "share": share.build(),
                 "compare": compare.build(), "run": runbar.build()}
        gr.Markdown(glossary_markdown(), elem_id="glossary")
        summary = gr.JSON(visible=False)
        summary_button = gr.Button(visible=False)

        options = {k: w for step in steps.values() for k, w in step.get("options", {}).items()}
        results = _result_outputs(steps, timer)
        _wire_data(steps, options, visitor, results)
        _wire_runs(steps, options, visitor, remembered, timer, results)
        _wire_results(steps, visitor, timer, results)
        _wire_lessons(lesson_ui, options, visitor, timer)
        _wire_share(steps["share"], visitor)
        timer.tick(live.poll, visitor, results[:len(live.POLL_OUTPUTS)], concurrency_limit=None,
                   trigger_mode="always_last", **QUIET)
        watchdog.tick(live.watchdog, visitor, timer, concurrency_limit=None, trigger_mode="always_last", **QUIET)
        summary_button.click(live.run_summary, visitor, summary, api_name="run_summary",
                             concurrency_limit=None)  # a light read, like the page's own poll: never queued
        data_outputs = _data_step_outputs(steps["data"])
        demo.load(handlers.restorer(list(options)), [remembered, visitor],
                  [remembered, timer, steps["align"]["method"], *options.values()], **PRIVATE
                  ).then(page.data_view, visitor, data_outputs, **QUIET).then(
            lessons.autoplay, visitor, [lesson_ui["status"], lesson_ui["summary"], timer, lesson_ui["pick"]], **PRIVATE)
    demo.queue(default_concurrency_limit=4)
    return demo


def _result_outputs(steps: dict, timer: gr.Timer) -> list:
    """Every output that shows the visitor's run: live.POLL_OUTPUTS, then page.EXTRA_OUTPUTS."""
    al, rf, ts, ex, run = steps["align"], steps["refine"], steps["test"], steps["export"], steps["run"]
    by_name = {"align_status": al["status"], "refine_status": rf["status"], "loss_plot": al["loss_plot"],
               "projection_plot": al["projection_plot"], "heatmap_plot": al["heatmap_plot"],
               "curves_plot": rf["curves_plot"], "test_status": ts["status"], "test_metrics": ts["metrics"],
               "test_plot": ts["plot"], "trial_table": rf["trials"], "run_bar": run["bar"],
               "run_status": run["status"], "run_pause": run["pause"], "run_resume": run["resume"],
               "run_step": run["step"], "run_stop": run["stop"], "timer": timer, "projection_scrub": al["scrub"],
               **{name: steps["lesson"][key] for name, key in live.LESSON_OUTPUTS.items()},
               "prediction": ts["prediction"], "sample_image": ts["sample_image"], "sample_plot": ts["sample_plot"],
               "sample_table": ts["sample_table"], "export_status": ex["status"], "export_zip": ex["zip"],
               "export_figures": ex["figures"], "export_command": ex["command"]}
    return [by_name[name] for name in (*live.POLL_OUTPUTS, *page.EXTRA_OUTPUTS)]


def _data_step_outputs(ui: dict) -> list:
    return [ui[name] for name in data_step.DATA_OUTPUTS] + [ui["label_column"], ui["example"]]


def _wire_data(steps: dict, options: dict, visitor: gr.State, results: list) -> None:
    ui, bb = steps["data"], steps["backbone"]
    kind = [ui["options"]["data.modality"], ui["options"]["data.task"]]
    outputs = [ui[name] for name in data_step.DATA_OUTPUTS]
    estimate_inputs = [visitor, *(options[k] for k in page.ESTIMATE_KEYS)]
    estimate = handlers.config_handler(page.ESTIMATE_KEYS, page.estimate)
    estimates = [steps["align"]["estimate"], steps["refine"]["estimate"]]

    def then_follow(event):  # new data: the results shown follow it, and so does the cost estimate
        event.success(page.follow_data, visitor, [ui["cleared"], *results], **QUIET
                      ).then(estimate, estimate_inputs, estimates, **QUIET)

    then_follow(ui["use_example"].click(data_step.use_example, [visitor, ui["example"], *kind], outputs,
                                        api_name="use_example"))
    upload_inputs = [visitor, ui["upload"], ui["label_column"], *kind]
    then_follow(ui["upload"].upload(data_step.read_upload, upload_inputs, outputs + [ui["label_column"]],
                                    api_name="read_upload"))
    then_follow(ui["label_column"].input(data_step.read_upload, upload_inputs, outputs + [ui["label_column"]],
                                         **PRIVATE))
    ui["upload"].clear(data_step.upload_cleared, visitor, outputs + [ui["label_column"], ui["cleared"]], **QUIET)
    bb["options"]["model.backbone"].change(backbone_summary, bb["options"]["model.backbone"], bb["summary"],
                                           **PRIVATE)
    for key in page.ESTIMATE_KEYS:
        options[key].change(estimate, estimate_inputs, estimates, trigger_mode="always_last", **QUIET)


START_CONCURRENCY = 16  # Start presses handled at once (the training itself queues in the engine: ORCA_MAX_ACTIVE)


def _wire_runs(steps: dict, options: dict, visitor, remembered, timer, results: list) -> None:
    al, rf, run = steps["align"], steps["refine"], steps["run"]
    keys, widgets = list(options), list(options.values())
    for button, status, action, api in ((al["start"], al["status"], handlers.start_align, "start_align"),
                                        (rf["start"], rf["status"], handlers.start_refine, "start_refine"),
                                        (rf["tune"], rf["status"], handlers.start_tune, "start_tune")):
        # a Start only validates and hands the run to the engine's worker (or a replay): a class pressing it
        # together must not wait in the default queue of 4 behind slower events
        started = button.click(handlers.config_handler(keys, action), [visitor, *widgets], [status, timer],
                               api_name=api, show_progress="minimal", concurrency_limit=START_CONCURRENCY,
                               concurrency_id="start")
        started.success(handlers.remember, visitor, remembered, **PRIVATE
                        ).then(page.render_results, visitor, results, **QUIET)
    for name, fn in (("pause", handlers.pause), ("resume", handlers.resume), ("step", handlers.step),
                     ("stop", handlers.stop)):
        run[name].click(fn, visitor, run["status"], api_name=name, show_progress="hidden")
    al["method"].change(handlers.set_projection, [visitor, al["method"]], al["method_note"],
                        api_name="set_projection").then(handlers.remember, visitor, remembered, **PRIVATE)
    al["scrub"].release(live.scrub, [visitor, al["scrub"]], al["projection_plot"], **QUIET)
    al["scrub_live"].click(live.follow_live, visitor, [al["projection_plot"], al["scrub"]], **QUIET)


def _wire_results(steps: dict, visitor, timer, results: list) -> None:
    ts, ex, cp = steps["test"], steps["export"], steps["compare"]
    ts["predict"].click(handlers.predict, [visitor, ts["sample"], ts["upload"]], ts["prediction"],
                        api_name="predict").success(page.sample_view, [visitor, ts["sample"], ts["upload"]],
                                                    [ts["sample_image"], ts["sample_plot"], ts["sample_table"]],
                                                    **QUIET)
    ex["prepare"].click(handlers.export_run, visitor, [ex["status"], ex["zip"], ex["figures"], ex["command"]],
                        api_name="export").then(handlers.my_runs, visitor, ex["runs"], **PRIVATE)
    ex["runs"].focus(handlers.my_runs, visitor, ex["runs"], **QUIET)
    ex["replay"].click(handlers.replay, [visitor, ex["runs"], ex["replay_file"]], [ex["status"], timer],
                       api_name="replay").success(page.after_replay, visitor,
                                                  [*_data_step_outputs(steps["data"]), *results], **QUIET)
    compare_outputs = [cp["note"], cp["table"], cp["chart"]]
    cp["refresh"].click(handlers.compare_runs, visitor, compare_outputs, api_name="compare")
    ts["status"].change(handlers.compare_runs, visitor, compare_outputs, **QUIET)  # a new result: compare follows



def _wire_lessons(ui: dict, options: dict, visitor, timer) -> None:
    keys, widgets = list(options), list(options.values())
    ui["play"].click(lessons.play, [visitor, ui["pick"]], [ui["status"], ui["summary"], timer], api_name="play_lesson")
    ui["show_guide"].change(lambda show: gr.update(visible=show), ui["show_guide"], ui["guide_box"], **QUIET)
    ui["reveal"].click(lessons.reveal, [visitor, ui["prediction"]], ui["answer"], api_name="reveal")
    start_pair = shows_errors(handlers.config_handler(keys, lessons.start_pair))
    ui["pair_start"].click(start_pair, [visitor, *widgets], [ui["pair_status"], timer], api_name="start_pair",
                           show_progress="minimal")


def _wire_share(ui: dict, visitor) -> None:
    ui["gif"].click(classroom.make_gif, visitor, [ui["gif_file"], ui["status"]], api_name="export_gif")
    ui["png"].click(classroom.make_pngs, visitor, ui["png_files"], api_name="export_png")
    ui["link"].click(classroom.make_share_link, visitor, ui["status"], api_name="share_link")
