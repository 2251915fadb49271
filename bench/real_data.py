"""Real small datasets, run as a new user would: ORCA with defaults, ORCA tuned, no alignment, and the
baselines every run fits, beside published anchors. Writes a section of docs/RESULTS.md.

    python bench/real_data.py                        # every set below (about an hour on 2 cores)
    python bench/real_data.py --sets ACSF1 digits --tune-seconds 120

Each ORCA run is the CLI (`python -m orca_engine run --data FILE.npz`), so the figures are what a
user gets. The real sets are UCR/UEA sets with official splits from the `aeon` wheel (bench/ucr.py);
the wheel's other sets are never touched here (the product is checked on them as unseen data).
The bundled examples use the engine's own seeded splits. The `digits` row also measures what the
live view promises: the distance between the source and target centroids in the projection, at
the first and the last alignment frame.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ucr  # noqa: E402
from report import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "RESULTS.md"
SECTION = "Real small datasets: defaults, tuned, no alignment, baselines"
# name -> extra CLI flags a user would pass after reading the data step's note
REAL = {"ACSF1": [], "JapaneseVowels": ["--data-modality", "sequence"], "PickupGestureWiimoteZ": [],
        "Covid3Month": []}
BUNDLED = ["digits", "breast_cancer", "wine", "iris", "diabetes"]


def orca(data: str, out: Path, flags: list[str]) -> dict:
    """One CLI run; returns its metrics.json plus wall seconds (or the error)."""
    cmd = [sys.executable, "-m", "orca_engine", "run", "--data", data, "--out", str(out), "--quiet", *flags]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed", "wall": seconds}
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["wall"], metrics["run_dir"] = seconds, str(run_dir)
    return metrics


def centroid_distances(run_dir: str) -> tuple[float, float] | None:
    """Source-target centroid distance in the projection at the first and last alignment frame,
    in units of the source cloud's spread (so PCA and UMAP frames read alike)."""
    frames = []
    for line in (Path(run_dir) / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "projection" and record.get("stage") == "align":
            frames.append(record)
    if len(frames) < 2:
        return None

    def distance(frame):
        src, tgt = np.asarray(frame["source_xy"]), np.asarray(frame["target_xy"])
        return float(np.linalg.norm(src.mean(0) - tgt.mean(0)) / max(1e-9, src.std(0).mean()))
    return distance(frames[0]), distance(frames[-1])


def key_metric(metrics: dict) -> str:
    return "accuracy" if "accuracy" in metrics.get("test", {}) else "r2"


def row(name: str, anchors: dict, default: dict, tuned: dict | None, no_align: dict | None) -> str:
    key = key_metric(default)

    def fmt(m: dict | None) -> str:
        if m is None:
            return "not run"
        return f"{m['test'][key]:.3f}" if "test" in m else f"error: {m.get('error', '?')}"
    base = {r["model"]: r["test"].get(key) for r in default.get("baselines", {}).get("results", [])}
    cell = lambda model: f"{base[model]:.3f}" if base.get(model) is not None else "–"  # noqa: E731
    chance = default.get("test_reference", {}).get("majority_class_rate")
    anchor = ", ".join(f"{k} {v:.2f}" for k, v in sorted(anchors.items())) or "–"
    verdict = default.get("baselines", {}).get("verdict", {})
    beat = "tie" if verdict.get("margin") == 0 else {True: "yes", False: "no", None: "–"}[verdict.get("beat")]
    secs = f"{default.get('wall', 0):.0f} / {tuned.get('wall', 0):.0f}" if tuned else f"{default.get('wall', 0):.0f}"
    return (f"| {name} | {key} | {fmt(default)} | {fmt(tuned) if tuned else '–'} | {fmt(no_align)} | "
            f"{cell('logistic regression') if key == 'accuracy' else cell('ridge regression')} | "
            f"{cell('1-NN Euclidean')} | {cell('1-NN DTW')} | {cell('MiniRocket')} | "
            f"{f'{chance:.3f}' if chance is not None else '–'} | {anchor} | {beat} | {secs} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=list(REAL) + BUNDLED)
    parser.add_argument("--tune-seconds", type=float, default=300.0, help="tune.max_seconds of each tuned run")
    parser.add_argument("--out", default=str(ROOT / ".cache" / "bench-real-data"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["tuned", "no-align"],
                        help="leave these columns out (they read 'not run'); the default run always runs")
    parser.add_argument("--rewrite", action="store_true",
                        help="rewrite the RESULTS.md section from the last run's real_data.json (no training)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.rewrite:
        return rewrite(out, args)
    rows, notes, raw = [], [], {}
    for name in args.sets:
        real = name in REAL
        data = str(ucr.npz_for(name)) if real else name
        flags = REAL.get(name, [])
        print(f"{name}: default ...", flush=True)
        default = orca(data, out, flags + ([] if name == "digits" else ["--no-projection"]))
        tuned = None
        if real and "tuned" not in args.skip:
            print(f"{name}: tuned ...", flush=True)
            tuned = orca(data, out, flags + ["--no-projection", "--tune", "--tune-max-seconds", str(args.tune_seconds),
                                             "--evaluate-baselines", "none"])
        if "no-align" not in args.skip:
            print(f"{name}: no alignment ...", flush=True)
        no_align = None if "no-align" in args.skip else orca(data, out, flags + ["--no-projection", "--align-steps", "0", "--evaluate-baselines", "none"])
        anchors = ucr.anchors(name) if real else {}
        rows.append(row(name, anchors, default, tuned, no_align))
        raw[name] = {"default": _brief(default), "tuned": _brief(tuned) if tuned else None,
                     "no_align": _brief(no_align) if no_align else None, "anchors": anchors}
        if name == "digits" and "run_dir" in default:
            d = centroid_distances(default["run_dir"])
            if d:
                notes.append(_live_view_note(d, default))
        print(rows[-1], flush=True)
    (out / "real_data.json").write_text(json.dumps(raw, indent=1))
    write_results(rows, notes, args)


def rewrite(out: Path, args) -> None:
    """The section again from saved results (e.g. after a change of wording), with the digits live-view note."""
    raw = json.loads((out / "real_data.json").read_text())
    rows = [row(name, r["anchors"], r["default"], r["tuned"], r["no_align"]) for name, r in raw.items()]
    notes = []
    digits = raw.get("digits", {}).get("default", {})
    if digits.get("run_dir") and (d := centroid_distances(digits["run_dir"])):
        notes.append(_live_view_note(d, digits))
    write_results(rows, notes, args)


def _live_view_note(d: tuple[float, float], default: dict) -> str:
    return (f"- Live view on `digits` (default run, PCA frames): the source-target centroid distance went from "
            f"{d[0]:.2f} to {d[1]:.2f} source spreads over {default['align']['steps']} alignment steps "
            f"({default['align']['stopped_by']}); OTDD {default['align']['otdd_before']:.1f} → "
            f"{default['align']['otdd_after']:.1f}. Whole default run (align, refine, test, baselines): "
            f"{default['wall']:.0f} s.")


def _brief(m: dict) -> dict:
    keep = ("test", "validation", "align", "refine", "refine_budget", "baselines", "test_reference", "wall", "error",
            "run_dir", "seconds")
    brief = {k: m[k] for k in keep if k in m}
    if "tune" in m:
        brief["tune"] = {k: m["tune"][k] for k in ("best_trial", "best_params", "seconds")}
        brief["tune"]["trials"] = len(m["tune"]["trials"])
    return brief


def write_results(rows: list[str], notes: list[str], args) -> None:
    header = ("| data | metric | ORCA default | ORCA tuned | no align | linear | 1-NN Eucl. | 1-NN DTW | "
              "MiniRocket | majority class | published (official split) | default beat best baseline? | "
              "seconds (default / tuned) |\n|" + "---|" * 13)
    body = "\n".join([
        f"Written by `python bench/real_data.py --tune-seconds {args.tune_seconds:g}"
        f"{' --skip ' + ' '.join(args.skip) if getattr(args, 'skip', None) else ''}`. {machine_line()}", "",
        "Each ORCA figure is one CLI run at seed 0 on MiniLM (the default backbone), scored once on the "
        "test split. Real sets: the official train/test split, validation carved from train (15%). "
        "Bundled sets: the engine's seeded split. Baselines are fitted by the same run on the same split "
        "(the verdict compares with the baseline best on *validation*). Published anchors are the "
        "resample-0 accuracies shipped in aeon's results files, where they cover the set "
        "(JapaneseVowels and PickupGestureWiimoteZ are the equal-length `_eq` versions). "
        "Tuned: `--tune` with `tune.max_seconds` as given, trials scored on validation. "
        "JapaneseVowels needs `--data-modality sequence` (its 12 x 25 samples are otherwise read as "
        "images, which the data step's note says).", "",
        header, *rows, "", *notes])
    from report import write_section
    write_section(SECTION, body, path=RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
