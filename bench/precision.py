"""fp32 against bf16 autocast on this machine: refine-step time side by side, and test accuracy.

    python bench/precision.py [--tokens 16 64] [--repeats 7] [--compile 16] [--seeds 0 1 2]
                              [--quality-runs DIR] [--skip-quality] [--write]

Speed: one MiniLM refine step on digits (forward under autocast, fp32 loss, backward, gradient
clipping, AdamW step; batch 32) for each token count, fp32 and bf16 interleaved in one process so
a busy shared machine slows both alike; the figure is the median of the per-repeat ratios.
With --compile TOKENS, the same steps also through `torch.compile`, interleaved with the eager
ones (compile time reported apart).

Quality: the default digits run (`python -m orca_engine run --data digits --seed S --precision P`)
for each seed in fp32 and bf16, test accuracy from its metrics.json. --quality-runs DIR reads
finished run folders from DIR instead of running them (their config.json names seed and precision).
With --write, the table goes into docs/BENCHMARKS.md ("Precision: fp32 against bf16").
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402

from orca_engine.config import ModelConfig, RunConfig  # noqa: E402
from orca_engine.data import load_dataset  # noqa: E402
from orca_engine.hardware import cpu_has_native_bf16  # noqa: E402
from orca_engine.model import build_model  # noqa: E402

SECTION = "Precision: fp32 against bf16"
BATCH = 32


def refine_step(tokens: int, compiled: bool):
    """A function running one MiniLM refine step on digits: step(autocast dtype, through torch.compile?)."""
    ds = load_dataset(RunConfig().data, seed=0)
    model = build_model(ds, "minilm", ModelConfig(max_tokens=tokens)).train()
    model.set_trainable("full")  # as refine does: the body's source embedding stays frozen
    params = model.trainable_parameters("full")
    forwards = {False: model, True: torch.compile(model) if compiled else None}  # same weights either way
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    x = torch.as_tensor(ds.x_train[:BATCH], dtype=torch.float32)  # (B, 1, 8, 8)
    y = torch.as_tensor(ds.y_train[:BATCH], dtype=torch.long)  # (B,)

    def step(dtype: torch.dtype | None, through_compile: bool = False) -> float:
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            out = forwards[through_compile](x)  # (B, classes)
        loss = torch.nn.functional.cross_entropy(out.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return time.perf_counter() - t0
    return step


def step_times(tokens: int, repeats: int, compiled: bool = False) -> dict:
    """Median step seconds per variant (fp32/bf16, eager/compiled), all interleaved, and the median
    per-repeat ratios: fp32/bf16, and eager/compiled for each precision."""
    step = refine_step(tokens, compiled)
    variants = [(None, False), (torch.bfloat16, False)]
    variants += [(None, True), (torch.bfloat16, True)] if compiled else []
    t0 = time.perf_counter()
    for variant in variants[2:] * 2:  # compile both graphs (twice: autocast changes trigger recompiles)
        step(*variant)
    compile_s = time.perf_counter() - t0
    for variant in variants[:2] * 2:  # warm-up
        step(*variant)
    times: dict = {v: [] for v in variants}
    for i in range(repeats):
        for variant in variants if i % 2 == 0 else variants[::-1]:  # alternate who goes first
            times[variant].append(step(*variant))
    med = {v: statistics.median(t) for v, t in times.items()}

    def ratio(a, b) -> float:
        return statistics.median(p / q for p, q in zip(times[a], times[b]))
    fp32, bf16 = (None, False), (torch.bfloat16, False)
    result = {"tokens": tokens, "fp32_s": med[fp32], "bf16_s": med[bf16], "ratio": ratio(fp32, bf16),
              "repeats": repeats, "threads": torch.get_num_threads()}
    if compiled:
        cfp32, cbf16 = (None, True), (torch.bfloat16, True)
        result.update(compile_s=compile_s, fp32_compiled_s=med[cfp32], bf16_compiled_s=med[cbf16],
                      compile_gain_fp32=ratio(fp32, cfp32), compile_gain_bf16=ratio(bf16, cbf16))
    return result


def run_digits(seed: int, precision: str, out: Path) -> Path:
    cmd = [sys.executable, "-m", "orca_engine", "run", "--data", "digits", "--seed", str(seed),
           "--precision", precision, "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def quality_rows(run_dirs: list[Path]) -> list[dict]:
    """Per run: seed, precision used, test accuracy as the run reported it, and the same saved model's
    test accuracy evaluated in the other precision (training and inference precision told apart)."""
    rows = []
    for run_dir in run_dirs:
        config = json.loads((run_dir / "config.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        used = metrics["model"].get("precision", config["precision"])
        rows.append({"seed": config["seed"], "used": used, "accuracy": metrics["test"]["accuracy"],
                     "other_eval": test_accuracy(run_dir, "fp32" if used == "bf16" else "bf16"),
                     "refine_s": metrics.get("seconds", {}).get("refine", float("nan"))})
    return sorted(rows, key=lambda r: (r["seed"], r["used"] != "fp32"))


def test_accuracy(run_dir: Path, precision: str) -> float:
    """Test accuracy of a saved run's model, evaluated with `precision` on the run's own test split."""
    from orca_engine.predict import model_outputs
    from orca_engine.runs import load_run
    run = load_run(run_dir)
    ds = load_dataset(run.config.data, seed=run.config.seed)
    raw = model_outputs(run.model, ds.x_test, precision=precision)  # (n_test, classes)
    return float((raw.argmax(1) == ds.y_test).mean())


def refine_autocasts_by_the_rule() -> bool:
    """Whether the refine stage enters autocast via hardware.autocast_dtype (else bf16 trains fp32 on CPU)."""
    import importlib
    import inspect
    refine = importlib.import_module("orca_engine.stages.refine")  # the module, not the stage function
    return "from ..hardware import autocast_dtype" in inspect.getsource(refine)


def speed_table(results: list[dict]) -> str:
    rows = ["| tokens | fp32 step (s) | bf16 step (s) | fp32 / bf16 |", "|---:|---:|---:|---:|"]
    for r in results:
        rows.append(f"| {r['tokens']} | {r['fp32_s']:.3f} | {r['bf16_s']:.3f} | **{r['ratio']:.2f}x** |")
    compiled = [r for r in results if "compile_s" in r]
    if compiled:
        rows += ["", "Through `torch.compile` (same steps, interleaved with the eager ones above; the compile "
                 "time is for both graphs and is much longer, minutes on 2 cores, without a warm inductor cache):",
                 "",
                 "| tokens | compile time (s) | fp32 compiled (s) | bf16 compiled (s) | eager / compiled fp32 | "
                 "eager / compiled bf16 |", "|---:|---:|---:|---:|---:|---:|"]
        for r in compiled:
            rows.append(f"| {r['tokens']} | {r['compile_s']:.0f} | {r['fp32_compiled_s']:.3f} | "
                        f"{r['bf16_compiled_s']:.3f} | {r['compile_gain_fp32']:.2f}x | "
                        f"{r['compile_gain_bf16']:.2f}x |")
    return "\n".join(rows)


def quality_table(rows: list[dict]) -> str:
    by_seed: dict[int, dict] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], {})[r["used"]] = r
    lines = ["| seed | fp32 test accuracy | bf16 test accuracy | bf16 - fp32 | bf16-trained, fp32 eval | "
             "fp32-trained, bf16 eval | refine s, fp32 / bf16 |", "|---:|---:|---:|---:|---:|---:|---:|"]
    nan = {"accuracy": float("nan"), "other_eval": float("nan"), "refine_s": float("nan")}
    for seed, run in sorted(by_seed.items()):
        a, b = run.get("fp32", nan), run.get("bf16", nan)
        delta = b["accuracy"] - a["accuracy"]
        lines.append(f"| {seed} | {a['accuracy']:.4f} | {b['accuracy']:.4f} | {delta:+.4f} "
                     f"| {b['other_eval']:.4f} | {a['other_eval']:.4f} "
                     f"| {a['refine_s']:.0f} / {b['refine_s']:.0f} = {a['refine_s'] / b['refine_s']:.2f}x |")
    both = [run for run in by_seed.values() if "fp32" in run and "bf16" in run]
    if both:
        a, b = (statistics.mean(run[k]["accuracy"] for run in both) for k in ("fp32", "bf16"))
        b_fp32, a_bf16 = (statistics.mean(run[k]["other_eval"] for run in both) for k in ("bf16", "fp32"))
        lines.append(f"| **mean** | **{a:.4f}** | **{b:.4f}** | **{b - a:+.4f}** | {b_fp32:.4f} | {a_bf16:.4f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compile", type=int, nargs="*", default=[], metavar="TOKENS",
                        help="token counts to also time through torch.compile (minutes of compiling each)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quality-runs", type=Path, help="read finished digits runs from this folder")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--speed-json", type=Path,
                        help="reuse the speed results saved in this file if it exists, else measure and save")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for the speed part (default 1: on a busy shared 2-core "
                             "machine a second spinning OpenMP thread made every step 10-30x slower)")
    parser.add_argument("--write", action="store_true", help="write the tables into docs/BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    reused = bool(args.speed_json and args.speed_json.exists())
    if reused:
        speed = json.loads(args.speed_json.read_text())
    else:
        speed = []
        for tokens in args.tokens:
            speed.append(step_times(tokens, args.repeats, compiled=tokens in args.compile))
            print(speed[-1], flush=True)
        if args.speed_json:
            args.speed_json.write_text(json.dumps(speed, indent=1))
    text = speed_table(speed)
    if not args.skip_quality:
        if args.quality_runs:
            run_dirs = [p.parent for p in sorted(args.quality_runs.glob("*/metrics.json"))]
        else:
            out = ROOT / "runs" / "bench-precision"
            run_dirs = [run_digits(seed, p, out) for seed in args.seeds for p in ("fp32", "bf16")]
        text += ("\n\nTest accuracy of the default digits run (minilm, 16 tokens), one row per seed:\n\n"
                 + quality_table(quality_rows(run_dirs)))
        if args.quality_runs:
            text += f"\n\nRuns read from `{args.quality_runs}`."
        if not refine_autocasts_by_the_rule():
            text += ("\n\nNote: this checkout's refine stage does not yet call `hardware.autocast_dtype`, so "
                     "`--precision bf16` trains in fp32 on CPU here; " +
                     ("the bf16 runs above were made with a refine stage that does." if args.quality_runs else
                      "the bf16 column above is fp32 training with bf16 evaluation only."))
    print(text)
    if args.write:
        from report import machine_line, write_section
        note = (f" The speed tables were read from `{args.speed_json}`, saved by an earlier invocation on the same "
                "machine; the machine line describes this one." if reused else "")
        body = (f"`python bench/precision.py {' '.join(sys.argv[1:])}`. {machine_line()}{note} Native CPU bf16 "
                f"(AMX/AVX512-bf16): {'yes' if cpu_has_native_bf16() else 'no'}.\n\n"
                f"One MiniLM refine step on digits, batch {BATCH}: forward under autocast, fp32 loss, backward, "
                f"clipping, AdamW; {speed[0]['threads']} torch thread(s); fp32 and bf16 interleaved in one "
                "process, "
                f"median of {speed[0]['repeats']} repeats (ratio = median of per-repeat ratios).\n\n{text}")
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
