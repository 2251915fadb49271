"""Live-view measurements on real runs: alignment slowdown caused by the live view, and the time
from opening the page to the first projection frame. Registered as sections of bench/live_view.py.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time

from orca_engine.session import Session

CADENCES = {  # the app's defaults, and the harshest: a 1,000-point sample after every step
    "default": {"projection_every": 2, "projection_points": 500, "source_samples": 1000},
    "every step, 1,000 points": {"projection_every": 1, "projection_points": 1000,
                                 "source_samples": 1000},
}


def align_seconds(session: Session, data: str, backbone: str, seed: int,
                  align: dict) -> tuple[float, int, float, float]:
    """Wall time of the align stage alone (from its events), frames drawn, objective-update rate,
    and the median seconds between frames."""
    run = session.start({"data": {"source": data}, "model": {"backbone": backbone}, "align": align, "seed": seed},
                        stages=("align",))
    status = session.wait(run, timeout=1800)
    if status.state != "idle":
        raise RuntimeError(f"align run ended {status.state}: {status.error}")
    events = session.events(run)
    start = next(e["time"] for e in events if e["type"] == "stage_started" and e["stage"] == "align")
    end = next(e["time"] for e in events if e["type"] == "stage_finished" and e["stage"] == "align")
    steps = [e["time"] for e in events if e["type"] == "step"]
    frame_times = [e["time"] for e in events if e["type"] == "projection"]
    session.release(run)
    rate = (len(steps) - 1) / (steps[-1] - steps[0]) if len(steps) > 1 else float("nan")
    gaps = [b - a for a, b in zip(frame_times, frame_times[1:])]
    return end - start, len(frame_times), rate, statistics.median(gaps) if gaps else float("nan")


IN_THREAD = "umap, in a thread (before)"


@contextlib.contextmanager
def umap_in_this_process(on: bool):
    """Lay UMAP frames out in the worker thread of this process, as before the UMAP process existed."""
    from orca_engine import projection
    if not on:
        yield
        return
    original = projection.Projector.__dict__["_layout"]
    projection.Projector._layout = staticmethod(projection.umap_layout)
    try:
        yield
    finally:
        projection.Projector._layout = original


def slowdown_section(args: argparse.Namespace) -> str:
    """Align with the live view off / PCA / UMAP (its process, and in a thread as before), interleaved
    over repeats, same seed and data."""
    from orca_engine import projection
    projection.warm_up_umap_in_background().join()
    projection.compile_umap_here()  # in this process too, for the "before" mode
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sessions = {"off": Session(tmp, live_projection=False), "pca": Session(tmp, projection_method="pca"),
                    "umap": Session(tmp, projection_method="umap"),
                    IN_THREAD: Session(tmp, projection_method="umap")}
        for cadence, align in CADENCES.items():
            times: dict[str, list[float]] = {k: [] for k in sessions}
            rates: dict[str, list[float]] = {k: [] for k in sessions}
            frames: dict[str, int] = {}
            gaps: dict[str, list[float]] = {k: [] for k in sessions}
            for repeat in range(args.repeats):
                for mode, session in sessions.items():
                    with umap_in_this_process(mode == IN_THREAD):
                        seconds, frames[mode], rate, gap = align_seconds(session, args.data, args.backbone, 0,
                                                                         dict(align, steps=args.steps))
                    times[mode].append(seconds)
                    rates[mode].append(rate)
                    gaps[mode].append(gap)
                    print(f"{cadence} #{repeat} {mode}: {seconds:.2f} s, {frames[mode]} frames "
                          f"({gap:.2f} s apart), {rate:.2f} steps/s", flush=True)
            rows += [f"| {cadence} | {mode} | {statistics.median(t):.2f} | "
                     f"{statistics.median(a / b for a, b in zip(t, times['off'])) - 1:+.1%} | "
                     f"{frames[mode]} | {_seconds(statistics.median(gaps[mode]))} | "
                     f"{statistics.median(rates[mode]):.1f} |" for mode, t in times.items()]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join([
        "### Alignment slowdown caused by the live view",
        "",
        f"Command: `python bench/live_view.py --sections slowdown --data {args.data} --backbone {args.backbone} "
        f"--steps {args.steps} --repeats {args.repeats}`  ",
        f"`{args.data}` on `{args.backbone}`, {args.steps} alignment steps (the app's default: 60), modes interleaved over {args.repeats} "
        "repeats in one process; median align-stage wall time, median over repeats of each run's time against the "
        "run without live view just before it (paired, so slow drifts of a shared machine cancel), median "
        "seconds between frames. Cadences: the "
        "app's default (a 500-point sample every 2nd step) and the harshest (1,000 points after every step). "
        f"2 CPU cores, 1-min load average {load:.1f} at the end.",
        "",
        "| cadence | live view | align stage (s) | vs off | frames drawn | s between frames | objective updates / s |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Alignment runs on one thread. The worker starts a frame at most every "
        f"{projection.FRAME_INTERVAL_S['pca']} s (PCA; the page polls every 0.5 s) or "
        f"{projection.FRAME_INTERVAL_S['umap']} s (UMAP) and keeps only the newest snapshot; the training "
        "thread hands it a copy of the embedder's weights, and the worker computes the features. UMAP layouts "
        f"run in a separate process at nice 10 (`ORCA_UMAP_NICE`); the row \"{IN_THREAD}\" lays them out in "
        "the worker thread of the training process instead, as the app did before, where umap-learn's numba "
        "code holds the GIL against the training thread. The class-distance heatmap (every 10th frame) is "
        "computed in every mode, off included. Differences of a few percent are within this machine's noise. "
        "Target: under 10% slowdown.",
    ])


def _seconds(value: float) -> str:
    return "" if value != value else f"{value:.2f}"  # NaN: fewer than two frames


def page_load_section(args: argparse.Namespace) -> str:
    """Open the app in headless Chromium, click the example and Start; time until the first frame."""
    import socket
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "app"))
    from conftest import chrome_driver  # the same browser set-up as the browser test
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from app import handlers
    from app.ui import build_ui, launch_options
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handlers.RUNS_DIR = Path(tempfile.mkdtemp(prefix="orca-bench-runs-"))
    demo = build_ui(warm_up_umap=True)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_options())
    try:
        with chrome_driver() as driver:
            t0 = time.perf_counter()
            driver.get(f"http://127.0.0.1:{port}/")
            WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.ID, "use-example"))
            ready = time.perf_counter() - t0
            driver.find_element(By.ID, "use-example").click()
            WebDriverWait(driver, 120).until(lambda d: "classification" in d.find_element(By.ID, "data-status").text)
            loaded = time.perf_counter() - t0
            button = driver.find_element(By.ID, "align-start")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
            button.click()
            clicked = time.perf_counter() - t0
            WebDriverWait(driver, 600, poll_frequency=0.1).until(lambda d: len(d.find_elements(
                By.CSS_SELECTOR, "#align-projection .js-plotly-plot .scatterlayer .trace")) >= 2)
            first_frame = time.perf_counter() - t0
    finally:
        demo.close()
    return "\n".join([
        "### From opening the page to the first frame",
        "",
        "Command: `python bench/live_view.py --sections page_load`  ",
        "The app on localhost with the default backbone (`minilm`), headless Chromium; a fresh process, so "
        "the first run also loads the backbone and computes (or reads the cached) source features.",
        "",
        "| moment | seconds after opening the page |",
        "|---|---:|",
        f"| page interactive (example button shown) | {ready:.1f} |",
        f"| example loaded and described | {loaded:.1f} |",
        f"| Start alignment clicked | {clicked:.1f} |",
        f"| first projection frame drawn | {first_frame:.1f} |",
        "",
        f"First frame {first_frame - clicked:.1f} s after the click.",
    ])
