"""The GPU path, checked in one prepared run: CUDA tests, otdd-exact parity on the GPU, the default
run in fp32 and bf16, and the large alignment timing. Under 5 minutes on one GPU.

    python bench/gpu_check.py [--write]           # on a CUDA machine (exits 1 if a check fails)
    python bench/gpu_check.py --dry-run           # the same code paths on the CPU at tiny sizes (the suite runs it)

Checks, each a row of the table (with --write, docs/BENCHMARKS.md "GPU check"):
- cuda tests: the tests that skip without CUDA, run with pytest (dry run: collected, not run);
- otdd parity: `otdd-exact` on the device against the same problem on the CPU, within 1%;
- default run fp32 / bf16: `digits` on `minilm` through a Session on the device (dry run: `iris` on
  `tiny-bert`, a few steps), wall time and test accuracy;
- alignment timing: one otdd-exact step (objective + backward) at the large size
  (5,000 source points, 10 x 128 targets), steady-state median.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402

from alignment_speed import SIZES, problem  # noqa: E402

CUDA_TESTS = ["tests/alignment/test_alignment_objectives.py", "tests/engine/test_hardware.py",
              "tests/engine/test_bf16_runs.py"]
TINY = dict(d=32, ns=200, cs=4, ct=4, m=16)
PARITY_TOLERANCE = 0.01
RUNS = {  # full: the default digits run; dry: a tiny run through the same code
    "full": {"data": {"source": "digits"}, "model": {"backbone": "minilm"}},
    "dry": {"data": {"source": "iris"}, "model": {"backbone": "tiny-bert", "max_tokens": 4},
            "align": {"steps": 3, "min_steps": 1, "source_samples": 60, "samples_per_class": 8},
            "refine": {"epochs": 1, "batch_size": 16}, "evaluate": {"baselines": "none"}},
}


def cuda_tests(dry: bool) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CUDA_TESTS] + (["--co"] if dry else [])
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    tail = (done.stdout.strip().splitlines() or [""])[-1]
    return {"check": "cuda tests" + (" (collected only)" if dry else ""), "ok": done.returncode == 0,
            "seconds": time.perf_counter() - started, "detail": tail}


def otdd_parity(device: torch.device, size: dict) -> dict:
    from orca_engine.alignment import make_objective
    xs, ys, raw, yt, weights = problem(**size)
    values = {}
    for where in (torch.device("cpu"), device):
        objective = make_objective("otdd-exact", xs.to(where), ys.to(where))
        values[where.type] = float(objective(raw.to(where) @ weights.to(where), yt.to(where)))
    cpu, dev = values["cpu"], values[device.type]
    diff = abs(dev - cpu) / max(abs(cpu), 1e-12)
    return {"check": f"otdd parity ({device.type} vs cpu)", "ok": diff <= PARITY_TOLERANCE, "seconds": float("nan"),
            "detail": f"cpu {cpu:.6g}, {device.type} {dev:.6g}, relative difference {diff:.1e}"}


def alignment_timing(device: torch.device, size: dict, reps: int) -> dict:
    from orca_engine.alignment import make_objective
    xs, ys, raw, yt, weights = (t.to(device) for t in problem(**size))
    objective = make_objective("otdd-exact", xs, ys)
    times = []
    for _ in range(reps + 1):
        w = torch.nn.Parameter(weights.clone())
        _sync(device)
        start = time.perf_counter()
        objective(raw @ w, yt).backward()
        _sync(device)
        times.append(time.perf_counter() - start)
    steady = statistics.median(times[1:])
    return {"check": f"alignment step, {size['ns']} source points ({device.type})", "ok": True, "seconds": steady,
            "detail": f"first {times[0]:.3f} s, steady median {steady:.4f} s over {reps}"}


def default_run(device: torch.device, precision: str, config: dict) -> dict:
    from orca_engine.session import Session
    with tempfile.TemporaryDirectory() as tmp:
        session = Session(runs_dir=Path(tmp) / "runs", live_projection=False)
        started = time.perf_counter()
        run = session.start({**config, "device": str(device), "precision": precision})
        status = session.wait(run, timeout=600)
        seconds = time.perf_counter() - started
    metrics = status.metrics
    accuracy = metrics.get("test", {}).get("accuracy", float("nan"))
    used = metrics.get("model", {}).get("precision", "?")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in metrics.get("seconds", {}).items())
    return {"check": f"default run, precision {precision}", "ok": status.state == "finished", "seconds": seconds,
            "accuracy": accuracy, "precision_used": used,
            "detail": f"{status.state}{': ' + status.error if status.error else ''}; ran {used}; "
                      f"test accuracy {accuracy:.4f}; {stages}"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def table(rows: list[dict], device: torch.device, dry: bool) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    lines = [f"Device: {name}; torch {torch.__version__}" + ("; DRY RUN: tiny sizes on the CPU" if dry else ""), "",
             "| check | ok | seconds | detail |", "|---|---|---:|---|"]
    for r in rows:
        lines.append(f"| {r['check']} | {'yes' if r['ok'] else '**no**'} | {r['seconds']:.3f} | {r['detail']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: check the script, not the GPU")
    parser.add_argument("--reps", type=int, default=5, help="steady-state alignment steps timed")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible; use --dry-run to check the script on the CPU", file=sys.stderr)
        return 2
    device = torch.device("cpu" if dry else "cuda")
    size = TINY if dry else SIZES["large"]
    rows = [cuda_tests(dry), otdd_parity(device, size), alignment_timing(device, size, args.reps)]
    for precision in ("fp32", "bf16"):
        rows.append(default_run(device, precision, RUNS["dry" if dry else "full"]))
        print(rows[-1], flush=True)
    text = table(rows, device, dry)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "dry_run": dry, "rows": rows}, indent=1))
    if args.write and not dry:
        from report import machine_line, write_section
        write_section("GPU check", f"`python bench/gpu_check.py --write`. {machine_line()}\n\n{text}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
