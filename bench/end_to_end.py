"""Wall time, peak memory and quality of the default digits run on `minilm`, split by stage, in
fp32 and bf16 side by side.

    python bench/end_to_end.py [--data digits] [--backbone minilm] [--precisions fp32,bf16] [--write]

Runs the engine in-process exactly as the app does (a Session worker thread with the live
projection on), once per precision in one process (fp32 first, then bf16), samples the process's
resident memory every 20 ms, and attributes time and peak memory to the stage that was running.
Quality: test accuracy and the OTDD before and after alignment (alignment runs fp32 in both: the
values must agree). With --write, the table goes into docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from orca_engine.session import Session  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemorySampler(threading.Thread):
    """Peak resident memory per stage label, sampled in the background."""

    def __init__(self, period: float = 0.02):
        super().__init__(daemon=True)
        self.period, self.stage, self.peaks, self.running = period, "start", {}, True

    def run(self) -> None:
        while self.running:
            mem = rss_mib()
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), mem)
            time.sleep(self.period)


def measure(data: str, backbone: str, precision: str = "fp32") -> dict:
    sampler = MemorySampler()
    sampler.start()
    baseline = rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(runs_dir=tmp)
        t0 = time.time()
        run = session.start({"data": {"source": data}, "model": {"backbone": backbone}, "precision": precision})
        cursor, times, started = 0, {}, {}
        while True:
            status = session.wait(run, timeout=0.1)
            for e in session.events(run, since=cursor):
                cursor += 1
                if e["type"] == "stage_started":
                    sampler.stage = e["stage"]
                    started[e["stage"]] = e["time"]
                elif e["type"] == "stage_finished":
                    times[e["stage"]] = e["time"] - started[e["stage"]]
            if not status.active:
                break
        total = time.time() - t0
        sampler.running = False
        if status.state != "finished":
            raise SystemExit(f"run ended {status.state}: {status.error}")
        frames = sum(1 for e in session.events(run) if e["type"] == "projection")
    return {"total_s": total, "stage_s": times, "peak_mib": sampler.peaks, "baseline_mib": baseline,
            "test": status.metrics["test"], "align": status.metrics.get("align", {}), "frames": frames,
            "precision": status.metrics["model"]["precision"], "refine_steps": status.metrics["refine"]["steps"],
            "load": os.getloadavg()[0]}


def table(results: list[dict], data: str, backbone: str) -> str:
    names = [r["precision"] for r in results]
    rows = ["| stage | " + " | ".join(f"{n} wall (s) | {n} peak RSS (MiB)" for n in names) + " |",
            "|---|" + "---:|---:|" * len(results)]
    for stage in ("prepare", "align", "refine", "evaluate"):
        rows.append(f"| {stage} | " + " | ".join(f"{r['stage_s'].get(stage, float('nan')):.1f} | "
                                               f"{r['peak_mib'].get(stage, float('nan')):.0f}" for r in results) + " |")
    rows.append("| **total** | " + " | ".join(f"**{r['total_s']:.1f}** | **{max(r['peak_mib'].values()):.0f}**"
                                             for r in results) + " |")
    quality = []
    for r in results:
        test = ", ".join(f"{k} {v:.4f}" for k, v in r["test"].items())
        align = r["align"]
        quality.append(f"- {r['precision']}: test {test}; OTDD (otdd-exact) {align.get('otdd_before', float('nan')):.6g} "
                       f"-> {align.get('otdd_after', float('nan')):.6g}; {r['refine_steps']} refine steps; "
                       f"{r['frames']} projection frames; 1-min load average {r['load']:.1f} at its end")
    ratio = ""
    if len(results) == 2:
        a, b = results
        ratio = (f"\n\n{a['precision']} / {b['precision']}: refine {a['stage_s']['refine'] / b['stage_s']['refine']:.2f}x, "
                 f"whole run {a['total_s'] / b['total_s']:.2f}x.")
    return "\n".join([
        f"Default settings, `{data}` on `{backbone}`, live PCA projection on; one run per precision, in this order, "
        f"in one process. Memory before the first run: {results[0]['baseline_mib']:.0f} MiB.",
        "", *rows, "", *quality]) + ratio + "\n\nTarget: under 3 minutes on 2 CPU cores (issue 12: under 45 s)."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated, run in this order")
    parser.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = parser.parse_args()
    results = []
    for precision in args.precisions.split(","):
        results.append(measure(args.data, args.backbone, precision))
        print(precision, results[-1]["total_s"], results[-1]["test"], flush=True)
    from report import machine_line, write_section
    body = table(results, args.data, args.backbone)
    print(body)
    if args.write:
        command = "python bench/end_to_end.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        write_section(f"End-to-end run ({args.data}, {args.backbone})",
                      f"Command: `{command.strip()}`\n\n{machine_line()}\n\n{body}")


if __name__ == "__main__":
    main()
