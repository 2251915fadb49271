"""Speed of `otdd-exact` (cached source terms, batched classes) against the rebuild-every-call form.

Both compute ORCA's objective Σ_t (n_t/N) OTDD(source, target class t) plus its backward pass on
the same random problem, side by side in one run; the rebuilt form follows the official code's
structure (`orca_engine.alignment.reference`). Prints one line per size and writes the table into
docs/BENCHMARKS.md under "## Alignment objective speed", with the command that produced it.

    python bench/alignment_speed.py                      # both sizes (the large rebuilt run takes minutes)
    python bench/alignment_speed.py --sizes demo --no-write
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from orca_engine.alignment import make_objective  # noqa: E402
from orca_engine.alignment.reference import otdd_rebuilt  # noqa: E402

SIZES = {  # d, source points, source classes, target classes, target points per class
    "large": dict(d=384, ns=5000, cs=10, ct=10, m=128),
    "demo": dict(d=384, ns=1000, cs=10, ct=10, m=64),
}
HEADING = "## Alignment objective speed"
DOC = ROOT / "docs" / "BENCHMARKS.md"


def problem(d, ns, cs, ct, m, seed=0):
    """Clustered source features and a linear 'embedder' W on raw target inputs, as the parity check."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(cs, d, generator=g) * 2
    ys = torch.arange(ns) % cs
    xs = centres[ys] + torch.randn(ns, d, generator=g)
    raw = torch.randn(ct, m, 64, generator=g) + torch.randn(ct, 1, 64, generator=g) * 3
    weights = torch.randn(64, d, generator=g) / 8
    return xs, ys, raw.reshape(ct * m, 64), torch.arange(ct).repeat_interleave(m), weights


def timed_step(loss_fn, raw, weights):
    """Seconds for embed + loss + backward, and the loss value."""
    w = torch.nn.Parameter(weights.clone())
    start = time.perf_counter()
    loss = loss_fn(raw @ w)
    loss.backward()
    return time.perf_counter() - start, float(loss.detach())


def measure(name: str, reps: int) -> dict:
    xs, ys, raw, yt, weights = problem(**SIZES[name])
    start = time.perf_counter()
    objective = make_objective("otdd-exact", xs, ys)
    setup = time.perf_counter() - start
    fast = [timed_step(lambda f: objective(f, yt), raw, weights) for _ in range(reps)]
    slow_s, slow_value = timed_step(lambda f: otdd_rebuilt(xs, ys, f, yt), raw, weights)
    fast_s, fast_value = min(fast)[0], fast[0][1]
    return dict(size=name, setup_s=setup, fast_s=fast_s, slow_s=slow_s, speedup=slow_s / fast_s,
                rel_diff=abs(fast_value - slow_value) / abs(slow_value), value=fast_value)


def table(rows: list[dict], command: str) -> str:
    lines = [HEADING, "",
             "One evaluation plus backward of `otdd-exact` (cached source terms, classes batched) against",
             "the same objective rebuilt on every call (the official code's structure), same process,",
             f"CPU only, torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}.",
             f"1-min load average {os.getloadavg()[0]:.1f} at the end (a shared machine: times scale with it).",
             "Setup (once per run) builds the source label distances and self terms.", "",
             "| size | d | source | target | setup s | fast s | rebuilt s | speed-up | value diff |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = SIZES[r["size"]]
        lines.append(f"| {r['size']} | {s['d']} | {s['ns']} in {s['cs']} classes | {s['ct']} x {s['m']} | "
                     f"{r['setup_s']:.2f} | {r['fast_s']:.3f} | {r['slow_s']:.2f} | {r['speedup']:.0f}x | "
                     f"{r['rel_diff']:.2e} |")
    lines += ["", f"Reproduce: `{command}` (fast: best of the repeated calls; rebuilt: one call).", ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace our section of docs/BENCHMARKS.md (or append it), leaving other sections alone."""
    old = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if HEADING in old:
        head, rest = old.split(HEADING, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        new = head + text + ("\n" + tail.lstrip("\n") if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    DOC.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="large,demo", help="comma-separated: large, demo")
    parser.add_argument("--reps", type=int, default=3, help="timed calls of the fast objective")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    for name in args.sizes.split(","):
        row = measure(name, args.reps)
        rows.append(row)
        print(f"{name}: fast {row['fast_s']:.3f} s (setup {row['setup_s']:.2f} s), rebuilt {row['slow_s']:.2f} s, "
              f"{row['speedup']:.0f}x, value diff {row['rel_diff']:.2e}", flush=True)
    if not args.no_write:
        write_section(table(rows, "python " + " ".join(["bench/alignment_speed.py", *sys.argv[1:]])))
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
