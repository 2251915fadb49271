"""Is an output ensemble of independently seeded runs worth its cost on small data? Development data
only (the digits written as sequences, cuts of the bundled examples), never the benchmark sets.

    python bench/selection_dev.py --make-digit-sequences .cache/dev     # digits_seq80.npz, digits_rows60.npz
    python bench/ensemble_dev.py --make-diabetes .cache/dev              # diabetes80.npz: 80 train / 342 test rows
    python bench/ensemble_dev.py dseq .cache/dev/digits_seq80.npz 3 '{"data.modality": "sequence"}'
    python bench/ensemble_dev.py diab .cache/dev/diabetes80.npz 3

Trains `k` default runs (seeds 0..k-1, baselines and projections off) on the same data and prints
one JSON line: each member's test score, and the score of the mean of the first m members' test
probabilities (regression: predictions) for m = 2..k, with the seconds each run took.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_diabetes(out: Path) -> None:
    """The bundled diabetes as 80 training and 342 test rows, from one seeded permutation."""
    from sklearn.datasets import load_diabetes
    out.mkdir(parents=True, exist_ok=True)
    d = load_diabetes()
    order = np.random.default_rng(0).permutation(len(d.target))
    x, y = d.data.astype(np.float32), d.target.astype(np.float32)
    np.savez(out / "diabetes80.npz", x_train=x[order[:80]], y_train=y[order[:80]], x_test=x[order[100:]],
             y_test=y[order[100:]])


def main(name: str, data: str, k: int, overrides: dict) -> dict:
    from orca_engine.config import RunConfig
    from orca_engine.metrics import TASK_METRICS
    from orca_engine.predict import model_outputs, to_task_units
    from orca_engine.stages import RunContext, run_stages

    outputs, seconds, y_test, task, metric = [], [], None, None, None
    for seed in range(k):
        config = RunConfig().with_overrides({"data.source": data, "seed": seed, "evaluate.baselines": "none",
                                             "align.projection_every": 0, **overrides})
        ctx = RunContext(config=config, run_dir=ROOT / ".cache" / "ensemble-dev" / f"{name}-{seed}")
        ctx.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        run_stages(ctx, ["prepare", "align", "refine"], lambda event: None)
        seconds.append(round(time.time() - started))
        ds = ctx.dataset
        task, metric = ds.task, TASK_METRICS.get(ds.task)
        if y_test is not None:
            assert np.array_equal(y_test, ds.y_test), "members must share the test split"
        y_test = ds.y_test
        outputs.append(to_task_units(model_outputs(ctx.model, ds.x_test), ctx.build_info))

    def score(pred: np.ndarray) -> float:
        scored = np.log(pred + 1e-9) if task == "classification" else pred
        return round(float(metric.compute(y_test, scored)[metric.selection]), 4)

    return {"name": name, "task": task, "selection": metric.selection, "seconds": seconds,
            "members": [score(o) for o in outputs],
            "ensembles": {m: score(np.mean(outputs[:m], axis=0)) for m in range(2, k + 1)}}


if __name__ == "__main__":
    if sys.argv[1] == "--make-diabetes":
        make_diabetes(Path(sys.argv[2]))
        sys.exit()
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                          json.loads(sys.argv[4]) if len(sys.argv) > 4 else {})), flush=True)
