"""A visitor clicking start and stop in a loop: what one click costs the server, and where RSS goes.

    python bench/start_stop.py                    # writes a docs/BENCHMARKS.md section

One process, one Session, the bundled digits example on the tiny random BERT. First the RSS steps
of importing transformers' BERT classes (they import torch._dynamo, torch._inductor and sympy) and
of the first run, once per process. Then blocks of start-and-stop cycles, alternating two
releases side by side: ours (`RunContext.release` collects only when the run held something) and
the previous one (a full `gc.collect()` on every release, i.e. up to two per click).
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from report import machine_line, write_section  # noqa: E402

CONFIG = {"data": {"source": "digits"}, "model": {"backbone": "tiny-bert"}, "align": {"steps": 5}}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def always_collect(ctx) -> None:
    """The release before this change: a full collection and a heap trim on every call."""
    from orca_engine.stages import context
    ctx.model = ctx.dataset = ctx.source = ctx.target_labels = None
    gc.collect()
    context._return_freed_memory_to_the_os()


def cycles(session, n: int) -> float:
    """Seconds per start-and-stop, as the app does it: a new start discards the visitor's previous run."""
    previous, t = None, time.perf_counter()
    for _ in range(n):
        if previous is not None:
            session.discard(previous, owner="visitor")
        previous = session.start(CONFIG, stages=("align",), owner="visitor")
        session.cancel(previous)
    session.wait(previous, timeout=300)
    return (time.perf_counter() - t) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=25, help="start-and-stop cycles per block")
    parser.add_argument("--blocks", type=int, default=2, help="blocks per release, interleaved")
    args = parser.parse_args()
    from orca_engine.session import Session
    from orca_engine.stages.context import RunContext
    ours = RunContext.release
    session = Session(runs_dir=tempfile.mkdtemp(), keep_run_folders=20, live_projection=False)

    from orca_engine.data import load_dataset
    from orca_engine.config import DataConfig
    load_dataset(DataConfig(source="digits"), seed=0)  # the data libraries' imports, not counted below
    before_bert = rss_mb()
    from transformers import BertModel  # noqa: F401 - what building the first model imports
    before_first = rss_mb()
    first = session.start(CONFIG, stages=("align",), owner="visitor")
    session.wait(first, timeout=600)
    session.discard(first, owner="visitor")
    after_first = rss_mb()
    cycles(session, args.cycles)  # warm-up
    baseline = rss_mb()
    seconds: dict[str, list[float]] = {"collect only when the run held something (ours)": [],
                                       "collect on every release (before)": []}
    for _ in range(args.blocks):
        for name in seconds:
            RunContext.release = ours if name.endswith("(ours)") else always_collect
            seconds[name].append(cycles(session, args.cycles))
    RunContext.release = ours
    end = rss_mb()
    med = {name: statistics.median(v) for name, v in seconds.items()}
    ours_s, before_s = med.values()
    rows = [f"| {name} | {s * 1000:.0f} | {s / ours_s:.1f}x |" for name, s in med.items()]
    total = 2 * args.blocks * args.cycles
    body = "\n".join([
        f"Written by `python bench/start_stop.py --cycles {args.cycles} --blocks {args.blocks}`. {machine_line()}", "",
        "A visitor's start-and-stop loop on one Session (digits, tiny random BERT, align, stopped at once; "
        f"the next start discards the previous run), {args.blocks} blocks of {args.cycles} cycles per release, "
        "interleaved; median ms per cycle.", "",
        "| release | ms per start-and-stop | / ours |", "|---|---:|---:|", *rows, "",
        f"RSS, once per process: +{before_first - before_bert:.0f} MB for importing transformers' BERT classes "
        "(what building the first model imports; they import torch._dynamo, torch._inductor and sympy), then "
        f"+{after_first - before_first:.0f} MB for the first run itself ({after_first:.0f} MB). Then: "
        f"{baseline:.0f} MB after {args.cycles} warm-up cycles, "
        f"{end:.0f} MB after {total} more ({(end / baseline - 1) * 100:+.1f}%).", "",
        "Before the first model is built that import has not happened, so a loop whose stops usually win the "
        "race against model building took the step mid-loop, which read as an 18% leak. Most clicks of such a "
        "loop stop runs that never left the queue; they hold nothing, and skipping their collections makes a "
        f"click {before_s / ours_s:.1f}x cheaper (each full collection holds the GIL for the whole server)."])
    write_section("Start and stop in a loop: cost per click and RSS", body)
    print(body)


if __name__ == "__main__":
    main()
