"""Wall time and peak memory of the default digits run on `minilm`, split by stage.

    python bench/end_to_end.py [--data digits] [--backbone minilm] [--write]

Runs the engine in-process exactly as the app does (a Session worker thread with the live
projection on), samples the process's resident memory every 20 ms, and attributes time and peak
memory to the stage that was running. With --write, the table goes into docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
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


def measure(data: str, backbone: str) -> dict:
    sampler = MemorySampler()
    sampler.start()
    baseline = rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(runs_dir=tmp)
        t0 = time.time()
        run = session.start({"data": {"source": data}, "model": {"backbone": backbone}})
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
            "test": status.metrics["test"], "align": status.metrics.get("align", {}), "frames": frames}


def table(result: dict, data: str, backbone: str) -> str:
    rows = ["| stage | wall time (s) | peak RSS (MiB) |", "|---|---:|---:|"]
    for stage in ("prepare", "align", "refine", "evaluate"):
        rows.append(f"| {stage} | {result['stage_s'].get(stage, float('nan')):.1f} | "
                    f"{result['peak_mib'].get(stage, float('nan')):.0f} |")
    rows.append(f"| **total** | **{result['total_s']:.1f}** | **{max(result['peak_mib'].values()):.0f}** |")
    test = ", ".join(f"{k} {v:.4f}" for k, v in result["test"].items())
    align = result["align"]
    return "\n".join([
        f"Default settings, `{data}` on `{backbone}`, live PCA projection on ({result['frames']} frames). "
        f"Memory before the run: {result['baseline_mib']:.0f} MiB (Python and the engine's light imports; "
        "torch and the backbone load during prepare).",
        "", *rows, "",
        f"Test: {test}. OTDD (otdd-exact) {align.get('otdd_before', float('nan')):.4g} -> "
        f"{align.get('otdd_after', float('nan')):.4g}. Target: under 3 minutes on 2 CPU cores."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = parser.parse_args()
    result = measure(args.data, args.backbone)
    from report import machine_line, write_section
    body = table(result, args.data, args.backbone)
    print(body)
    if args.write:
        command = "python bench/end_to_end.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        write_section(f"End-to-end run ({args.data}, {args.backbone})",
                      f"Command: `{command.strip()}`\n\n{machine_line()}\n\n{body}")


if __name__ == "__main__":
    main()
