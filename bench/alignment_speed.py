"""Speed of `otdd-exact` (cached source terms, batched classes) against the rebuild-every-call form.

Both compute ORCA's objective Σ_t (n_t/N) OTDD(source, target class t) plus its backward pass on
the same random problem, side by side in one run; the rebuilt form follows the official code's
structure (`orca_engine.alignment.reference`). Prints one line per size and writes the table into
docs/BENCHMARKS.md under "## Alignment objective speed", with the command that produced it.

    nice -n 5 python bench/alignment_speed.py            # both sizes (the large rebuilt run takes minutes)
    python bench/alignment_speed.py --sizes demo --no-rebuilt --no-write --threads 1

Precision, side by side in the same run (at the first thread count): fp32 throughout (what the
align stage does); bf16 features (the embedder under bf16 autocast, the OT maths in fp32); and
bf16 everywhere (the whole objective under autocast). Time per step and the objective's relative
difference from fp32: the parity that says whether bf16 may touch alignment.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from orca_engine.alignment import make_objective  # noqa: E402
from orca_engine.alignment.reference import otdd_rebuilt  # noqa: E402
from report import machine_line, write_section  # noqa: E402

SIZES = {  # d, source points, source classes, target classes, target points per class
    "large": dict(d=384, ns=5000, cs=10, ct=10, m=128),
    "demo": dict(d=384, ns=1000, cs=10, ct=10, m=64),
}
HEADING = "Alignment objective speed"


def problem(d, ns, cs, ct, m, seed=0):
    """Clustered source features and a linear 'embedder' W on raw target inputs, as the parity check."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(cs, d, generator=g) * 2
    ys = torch.arange(ns) % cs
    xs = centres[ys] + torch.randn(ns, d, generator=g)
    raw = torch.randn(ct, m, 64, generator=g) + torch.randn(ct, 1, 64, generator=g) * 3
    weights = torch.randn(64, d, generator=g) / 8
    return xs, ys, raw.reshape(ct * m, 64), torch.arange(ct).repeat_interleave(m), weights


PRECISIONS = {  # name -> (embedder under bf16 autocast, objective under bf16 autocast)
    "fp32": (False, False), "bf16 features": (True, False), "bf16 everywhere": (True, True)}


def timed_step(loss_fn, raw, weights, precision: str = "fp32"):
    """Seconds for embed + loss + backward, and the loss value; `precision` one of PRECISIONS."""
    embed_bf16, objective_bf16 = PRECISIONS[precision]
    w = torch.nn.Parameter(weights.clone())
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=embed_bf16):
        feats = raw @ w  # (n_t, d)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=objective_bf16):
        loss = loss_fn(feats if objective_bf16 else feats.float())
    loss.float().backward()
    return time.perf_counter() - start, float(loss.detach().float())


def measure(name: str, reps: int, threads: list[int], rebuilt: bool) -> dict:
    """Setup; first and steady-state call (median of `reps` more) per torch thread count; one rebuilt
    call at the first thread count, if asked."""
    xs, ys, raw, yt, weights = problem(**SIZES[name])
    torch.set_num_threads(threads[0])
    start = time.perf_counter()
    objective = make_objective("otdd-exact", xs, ys)
    row = dict(size=name, setup_s=time.perf_counter() - start, first_s={}, steady_s={},
               slow_s=math.nan, speedup=math.nan, rel_diff=math.nan)
    for n in threads:
        torch.set_num_threads(n)
        row["first_s"][n], row["value"] = timed_step(lambda f: objective(f, yt), raw, weights)
        steady = sorted(timed_step(lambda f: objective(f, yt), raw, weights)[0] for _ in range(reps))
        row["steady_s"][n] = steady[len(steady) // 2]
    torch.set_num_threads(threads[0])
    row["precision"] = {}
    for reps_done in range(reps):  # precisions interleaved, so a busy machine slows each alike
        for name_p in PRECISIONS:
            seconds, value = timed_step(lambda f: objective(f, yt), raw, weights, name_p)
            row["precision"].setdefault(name_p, {"s": [], "value": value})["s"].append(seconds)
    for name_p, r in row["precision"].items():
        r["steady_s"] = sorted(r["s"])[len(r["s"]) // 2]
        r["rel_diff"] = abs(r["value"] - row["value"]) / abs(row["value"])
    if rebuilt:
        torch.set_num_threads(threads[0])
        row["slow_s"], slow_value = timed_step(lambda f: otdd_rebuilt(xs, ys, f, yt), raw, weights)
        row.update(speedup=row["slow_s"] / row["steady_s"][threads[0]],
                   rel_diff=abs(row["value"] - slow_value) / abs(slow_value))
    return row


def table(rows: list[dict], threads: list[int], command: str) -> str:
    per_thread = " | ".join(f"first / steady s, {n} thr." for n in threads)
    lines = [
        "One evaluation plus backward of `otdd-exact` (cached source terms, classes batched) against",
        "the same objective rebuilt on every call (`reference.otdd_rebuilt`, the official code's structure),",
        "same process, CPU only. " + machine_line(),
        f"1-min load average {os.getloadavg()[0]:.1f} at the end (a shared machine: times scale with it).",
        "Setup (once per run) builds the source label distances and self terms; first is the first call;",
        "steady is the median of the later calls, what one alignment step costs. Rebuilt and speed-up",
        f"at {threads[0]} thread(s). Both share `sinkhorn.py`, so its speed-ups (one exp per symmetric",
        "update, floored exponents) count for both: the rebuilt column is not the official code's time.", "",
        f"| size | d | source | target | setup s | {per_thread} | rebuilt s | speed-up (steady) | value diff |",
        "|---|---|---|---|---|" + "---|" * len(threads) + "---|---|---|"]
    for r in rows:
        s = SIZES[r["size"]]
        calls = " | ".join(f"{r['first_s'][n]:.3f} / {r['steady_s'][n]:.3f}" for n in threads)
        rebuilt = f"{r['slow_s']:.2f} | {r['speedup']:.0f}x | {r['rel_diff']:.1e}" if math.isfinite(r["slow_s"]) else "- | - | -"
        lines.append(f"| {r['size']} | {s['d']} | {s['ns']} in {s['cs']} classes | {s['ct']} x {s['m']} | "
                     f"{r['setup_s']:.2f} | {calls} | {rebuilt} |")
    lines += ["", f"Precision at {threads[0]} thread(s), interleaved in the same run (median step; relative difference of the "
              "objective from fp32): bf16 features = embedder under bf16 autocast, OT maths fp32; bf16 everywhere = "
              "the objective also called inside the autocast region, which it switches off for its own maths "
              "(`alignment/base.py`), so its cost matrices and log-sum-exps stay fp32 either way.", "",
              "| size | " + " | ".join(f"{p} s" for p in PRECISIONS) + " | " +
              " | ".join(f"{p} diff" for p in list(PRECISIONS)[1:]) + " |",
              "|---|" + "---:|" * (2 * len(PRECISIONS) - 1)]
    for r in rows:
        p = r["precision"]
        lines.append(f"| {r['size']} | " + " | ".join(f"{p[k]['steady_s']:.3f}" for k in PRECISIONS) + " | " +
                     " | ".join(f"{p[k]['rel_diff']:.1e}" for k in list(PRECISIONS)[1:]) + " |")
    lines += ["", f"Reproduce: `{command}` (rebuilt: one call).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="large,demo", help="comma-separated: large, demo")
    parser.add_argument("--reps", type=int, default=5, help="steady-state calls of the fast objective")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch intra-op thread counts")
    parser.add_argument("--no-rebuilt", action="store_true", help="skip the slow rebuilt reference")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md")
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",")]
    rows = []
    for name in args.sizes.split(","):
        row = measure(name, args.reps, threads, rebuilt=not args.no_rebuilt)
        rows.append(row)
        calls = ", ".join(f"{n} thr. first {row['first_s'][n]:.3f} s steady {row['steady_s'][n]:.3f} s" for n in threads)
        print(f"{name}: setup {row['setup_s']:.2f} s, {calls}, rebuilt {row['slow_s']:.2f} s, "
              f"{row['speedup']:.0f}x, value diff {row['rel_diff']:.1e}", flush=True)
        print("  " + ", ".join(f"{k} {v['steady_s']:.3f} s (diff {v['rel_diff']:.1e})"
                               for k, v in row["precision"].items()), flush=True)
    if not args.no_write:
        niceness = os.nice(0)
        command = (f"nice -n {niceness} " if niceness else "") + " ".join(["python bench/alignment_speed.py", *sys.argv[1:]])
        write_section(HEADING, table(rows, threads, command))
        print("wrote docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()
