"""Recipe decisions on development data only: small cuts of the bundled examples, never the
real-data benchmark sets (bench/real_data.py) nor the aeon wheel's other sets (kept unseen).

Each cell is one CLI run (`python -m orca_engine run`), validation and test accuracy of the kept
checkpoint. A variant is a list of CLI flags laid over the defaults.

    python bench/recipe_dev.py --variants base aug ema aug+ema --seeds 0 1
    python bench/recipe_dev.py --table          # the last results as a markdown table

Results go to .cache/recipe-dev/results.jsonl (one line per run, appended), so an interrupted sweep
keeps what it measured.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".cache" / "recipe-dev"
# dev set -> flags that cut it to the small-data regime (tens of training samples)
DEV_SETS = {
    "synthetic-signals": ["--data-train-fraction", "0.06"],  # ~47 training signals, 4 classes
    "digits": ["--data-train-fraction", "0.05"],  # ~58 training images, 10 classes
    "breast_cancer": ["--data-train-fraction", "0.12"],  # ~47 training rows, 2 classes
    "wine": [],  # ~100 training rows, 3 classes
    "diabetes": ["--data-train-fraction", "0.2"],  # ~56 training rows, regression
}
OFF = ["--refine-augment", "none", "--refine-ema", "0"]
VARIANTS = {
    "base": OFF,
    "aug": ["--refine-augment", "auto", "--refine-ema", "0"],
    "ema": ["--refine-augment", "none", "--refine-ema", "0.99"],
    "aug+ema": ["--refine-augment", "auto", "--refine-ema", "0.99"],
    "aug-600": ["--refine-augment", "auto", "--refine-ema", "0", "--refine-min-steps", "600"],
    "aug-600-lr3e-5": ["--refine-augment", "auto", "--refine-ema", "0", "--refine-min-steps", "600",
                       "--refine-lr", "3e-5"],
    "base-600": OFF + ["--refine-min-steps", "600"],
    "aug-600-layernorm": ["--refine-augment", "auto", "--refine-min-steps", "600", "--refine-scope", "layernorm"],
    "aug-600-lpft": ["--refine-augment", "auto", "--refine-min-steps", "600", "--refine-head-first-fraction", "0.3"],
    "aug-600-noalign": ["--refine-augment", "auto", "--refine-min-steps", "600", "--align-steps", "0"],
    "default": [],
}


def run(data: str, flags: list[str], seed: int) -> dict:
    cmd = [sys.executable, "-m", "orca_engine", "run", "--data", data, "--out", str(OUT / "runs"), "--quiet",
           "--no-projection", "--evaluate-baselines", "linear", "--seed", str(seed), *flags]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1], "wall": wall}
    metrics = json.loads((Path(done.stdout.strip().splitlines()[-1]) / "metrics.json").read_text())
    key = "accuracy" if "accuracy" in metrics["test"] else "r2"
    linear = [r for r in metrics.get("baselines", {}).get("results", []) if r.get("test")]
    return {"metric": key, "test": metrics["test"][key], "val": metrics["validation"].get(key),
            "linear": linear[0]["test"].get(key) if linear else None, "wall": round(wall, 1),
            "steps": metrics["refine"]["steps"], "best_step": metrics["refine"]["best_step"]}


def table(path: Path) -> str:
    cells: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if "test" in r:
            cells[(r["set"], r["variant"])].append(r)
    sets = sorted({s for s, _ in cells}, key=list(DEV_SETS).index)
    variants = [v for v in VARIANTS if any((s, v) in cells for s in sets)]
    lines = ["| dev set | " + " | ".join(variants) + " | linear |", "|---" * (len(variants) + 2) + "|"]
    for s in sets:
        row = []
        for v in variants:
            rs = cells.get((s, v), [])
            row.append(f"{sum(r['test'] for r in rs) / len(rs):.3f} (val {sum(r['val'] for r in rs) / len(rs):.3f}, "
                       f"n={len(rs)})" if rs else "–")
        lin = [r["linear"] for v in variants for r in cells.get((s, v), []) if r.get("linear") is not None]
        lines.append(f"| {s} | " + " | ".join(row) + f" | {sum(lin) / len(lin):.3f} |" if lin else " | – |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=list(DEV_SETS))
    parser.add_argument("--variants", nargs="*", default=["base", "aug", "ema", "aug+ema"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--extra", nargs="*", default=[], help="flags added to every run")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    path = OUT / "results.jsonl"
    if args.table:
        print(table(path))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name in args.sets:
            for variant in args.variants:
                result = run(name, DEV_SETS[name] + VARIANTS[variant] + args.extra, seed)
                result.update({"set": name, "variant": variant, "seed": seed, "extra": args.extra})
                print(json.dumps(result), flush=True)
                with path.open("a") as f:
                    f.write(json.dumps(result) + "\n")
    print(table(path))


if __name__ == "__main__":
    main()
