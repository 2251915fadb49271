"""build_ui(): the one-page flow (six steps) wired to the handlers. No launching here (see app.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from . import classroom, handlers, lessons, live, messages
from .state import FreshVisitor
from .tabs import align, backbone, compare, data, export, lesson, refine, share, test
from .tabs.backbone import backbone_summary

ASSETS = Path(__file__).resolve().parent.parent / "assets"
POLL_SECONDS = 0.5
PRIVATE = {"api_visibility": "private"}
QUIET = {"show_progress": "hidden", **PRIVATE}


def launch_options() -> dict[str, Any]:
    """Keyword arguments for demo.launch(): styling and the stated upload limit. Run folders are not
    in `allowed_paths`: their files reach a visitor only through handlers that check ownership."""
    handlers.RUNS_DIR.mkdir(parents=True, exist_ok=True)
    return {"css_paths": [ASSETS / "style.css"], "max_file_size": f"{messages.MAX_UPLOAD_MB}mb",
            "footer_links": ["api"]}


def build_ui(warm_up_umap: bool = True) -> gr.Blocks:
    """The whole page. `warm_up_umap=False` skips compiling UMAP in the background (tests)."""
    if warm_up_umap:
        _warm_up_projection()
    with gr.Blocks(title=messages.TITLE) as demo:
        visitor = gr.State(None, delete_callback=handlers.visitor_left)
        visitor.value = FreshVisitor()  # after __init__, which would deep-copy it once for everyone
        remembered = gr.BrowserState({"owner": "", "run_id": "", "projection": "", "token": ""},
                                     storage_key="orca-explorer-visitor")
        timer = gr.Timer(POLL_SECONDS, active=False)
        gr.Markdown(messages.INTRO, elem_id="intro")
        lesson_ui = lesson.build()  # the page opens on a lesson that plays at once (app/lessons.py)
        steps = {"lesson": lesson_ui, "data": data.build(), "backbone": backbone.build(), "align": align.build(),
                 "refine": refine.build(), "test": test.build(), "export": export.build(), "share": share.build(),
                 "compare": compare.build()}
        summary = gr.JSON(visible=False)
        summary_button = gr.Button(visible=False)

        options = {k: w for step in steps.values() for k, w in step.get("options", {}).items()}
        _wire_data(steps["data"], steps["backbone"], visitor)
        _wire_runs(steps, options, visitor, remembered, timer)
        _wire_results(steps, visitor, timer)
        _wire_lessons(lesson_ui, options, visitor, timer)
        _wire_share(steps["share"], visitor)
        summary_button.click(live.run_summary, visitor, summary, api_name="run_summary")
        demo.load(handlers.restorer(list(options)), [remembered, visitor],
                  [remembered, timer, steps["align"]["method"], *options.values()], **PRIVATE).then(
            lessons.autoplay, visitor, [lesson_ui["status"], lesson_ui["summary"], timer, lesson_ui["pick"]], **PRIVATE)
    demo.queue(default_concurrency_limit=4)
    return demo


def _wire_data(ui: dict, bb: dict, visitor: gr.State) -> None:
    kind = [ui["options"]["data.modality"], ui["options"]["data.task"]]
    outputs = [ui[name] for name in handlers.DATA_OUTPUTS]
    ui["use_example"].click(handlers.use_example, [visitor, ui["example"], *kind], outputs, api_name="use_example")
    upload_inputs = [visitor, ui["upload"], ui["label_column"], *kind]
    ui["upload"].upload(handlers.read_upload, upload_inputs, outputs + [ui["label_column"]], api_name="read_upload")
    ui["load_upload"].click(handlers.read_upload, upload_inputs, outputs + [ui["label_column"]], **PRIVATE)
    ui["label_column"].input(handlers.read_upload, upload_inputs, outputs + [ui["label_column"]], **PRIVATE)
    bb["options"]["model.backbone"].change(backbone_summary, bb["options"]["model.backbone"], bb["summary"],
                                           **PRIVATE)


def _wire_runs(steps: dict, options: dict, visitor, remembered, timer) -> None:
    al, rf = steps["align"], steps["refine"]
    keys, widgets = list(options), list(options.values())
    start_align = handlers.config_handler(keys, handlers.start_align)
    start_refine = handlers.config_handler(keys, handlers.start_refine)
    start_tune = handlers.config_handler(keys, handlers.start_tune)
    al["start"].click(start_align, [visitor, *widgets], [al["status"], timer], api_name="start_align",
                      show_progress="minimal").then(handlers.remember, visitor, remembered, **PRIVATE)
    rf["start"].click(start_refine, [visitor, *widgets], [rf["status"], timer], api_name="start_refine",
                      show_progress="minimal").then(handlers.remember, visitor, remembered, **PRIVATE)
    rf["tune"].click(start_tune, [visitor, *widgets], [rf["status"], timer], api_name="start_tune",
                     show_progress="minimal").then(handlers.remember, visitor, remembered, **PRIVATE)
    for name, fn in (("pause", handlers.pause), ("resume", handlers.resume), ("step", handlers.step),
                     ("stop", handlers.stop)):
        al[name].click(fn, visitor, al["status"], api_name=name, show_progress="hidden")
    rf["stop"].click(handlers.stop, visitor, rf["status"], **QUIET)
    al["method"].change(handlers.set_projection, [visitor, al["method"]], al["method_note"],
                        api_name="set_projection").then(handlers.remember, visitor, remembered, **PRIVATE)
    outputs = {"align_status": al["status"], "refine_status": rf["status"], "loss_plot": al["loss_plot"],
               "projection_plot": al["projection_plot"], "heatmap_plot": al["heatmap_plot"],
               "curves_plot": rf["curves_plot"], "test_status": steps["test"]["status"],
               "test_metrics": steps["test"]["metrics"], "test_plot": steps["test"]["plot"],
               "trial_table": rf["trials"],
               "align_pause": al["pause"], "align_resume": al["resume"], "align_step": al["step"],
               "align_stop": al["stop"], "refine_stop": rf["stop"], "projection_scrub": al["scrub"], "timer": timer,
               **{name: steps["lesson"][key] for name, key in live.LESSON_OUTPUTS.items()}}
    al["scrub"].release(live.scrub, [visitor, al["scrub"]], al["projection_plot"], **QUIET)
    al["scrub_live"].click(live.follow_live, visitor, [al["projection_plot"], al["scrub"]], **QUIET)
    timer.tick(live.poll, visitor, [outputs[name] for name in live.POLL_OUTPUTS], concurrency_limit=None,
               trigger_mode="always_last", **QUIET)


def _wire_results(steps: dict, visitor, timer) -> None:
    ts, ex = steps["test"], steps["export"]
    ts["predict"].click(handlers.predict, [visitor, ts["sample"], ts["upload"]], ts["prediction"],
                        api_name="predict")
    ex["prepare"].click(handlers.export_run, visitor, [ex["status"], ex["zip"], ex["figures"], ex["command"]],
                        api_name="export").then(handlers.my_runs, visitor, ex["runs"], **PRIVATE)
    ex["runs"].focus(handlers.my_runs, visitor, ex["runs"], **QUIET)
    ex["replay"].click(handlers.replay, [visitor, ex["runs"], ex["replay_file"]], [ex["status"], timer],
                       api_name="replay")
    cp = steps["compare"]
    cp["refresh"].click(handlers.compare_runs, visitor, [cp["note"], cp["table"], cp["chart"]], api_name="compare")


def _wire_lessons(ui: dict, options: dict, visitor, timer) -> None:
    keys, widgets = list(options), list(options.values())
    ui["play"].click(lessons.play, [visitor, ui["pick"]], [ui["status"], ui["summary"], timer], api_name="play_lesson")
    ui["show_guide"].change(lambda show: gr.update(visible=show), ui["show_guide"], ui["guide_box"], **QUIET)
    ui["reveal"].click(lessons.reveal, [visitor, ui["prediction"]], ui["answer"], api_name="reveal")
    start_pair = handlers.shows_errors(handlers.config_handler(keys, lessons.start_pair))
    ui["pair_start"].click(start_pair, [visitor, *widgets], [ui["pair_status"], timer], api_name="start_pair",
                           show_progress="minimal")


def _wire_share(ui: dict, visitor) -> None:
    ui["gif"].click(classroom.make_gif, visitor, [ui["gif_file"], ui["status"]], api_name="export_gif")
    ui["png"].click(classroom.make_pngs, visitor, ui["png_files"], api_name="export_png")
    ui["link"].click(classroom.make_share_link, visitor, ui["status"], api_name="share_link")


def _warm_up_projection() -> None:
    """Compile UMAP's numba code in the background so the first UMAP frame does not stall a run."""
    from orca_engine.projection import warm_up_umap_in_background
    warm_up_umap_in_background()
