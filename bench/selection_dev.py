"""Selection and prediction variants on development data, from one training run each: the evidence
for refine.select_on = auto (last weights under 50 validation samples), refine.tta and refine.soup
(docs/RECIPE.md). Only development data: cuts of the bundled examples and the digits written as
sequences (`--make-digit-sequences`), never the real-data benchmark sets or the aeon wheel's others.

    python bench/selection_dev.py --make-digit-sequences .cache/dev        # writes two .npz files
    python bench/selection_dev.py syn synthetic-signals 0 '{"data.train_fraction": 0.06}'
    python bench/selection_dev.py dseq .cache/dev/digits_seq80.npz 1 '{"data.modality": "sequence"}'

Each call trains once (prepare, align, refine under the given overrides, with test-time shifts and
the soup off, so every variant starts from the plain model), snapshots the weights at every
validation check, then scores on validation and test: the best checkpoint, it with test-time shifts
(the last axis moved by at least one position), the last weights, a greedy soup, a top-3 output ensemble and a
uniform average of the second half. One JSON line goes to stdout: {variant: [validation, test]}.
The measured table is in docs/RECIPE.md.
"""
from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_digit_sequences(out: Path) -> None:
    """The bundled digits as two sequence sets: 80 images as 1 x 64 and 60 as 8 x 8 (rows as
    channels), 500 test images each, from one seeded permutation."""
    from sklearn.datasets import load_digits
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    pixels, y = digits.data.astype(np.float32), digits.target
    for name, x, train, test in (("digits_seq80", pixels.reshape(-1, 1, 64), order[:80], order[80:580]),
                                 ("digits_rows60", pixels.reshape(-1, 8, 8), order[1000:1060], order[1100:1600])):
        np.savez(out / f"{name}.npz", x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test])


def main(name: str, data: str, seed: int, overrides: dict) -> dict:
    from orca_engine.config import RunConfig
    from orca_engine.metrics import TASK_METRICS
    from orca_engine.predict import model_outputs, to_task_units
    from orca_engine.stages import RunContext, run_stages
    from orca_engine.stages.refine import averaged_weights as averaged
    refine_module = importlib.import_module("orca_engine.stages.refine")  # the module, not the stage function

    config = RunConfig().with_overrides({"data.source": data, "seed": seed, "evaluate.baselines": "none",
                                         "align.projection_every": 0, "refine.tta": "none", "refine.soup": "none",
                                         "refine.select_on": "metric",
                                         "refine.augment_probability": 1.0,  # as when the table was measured
                                         **overrides})
    snapshots: list[tuple[dict, float, dict]] = []  # (weights, validation loss, validation metrics) per check
    validate = refine_module.validation_scores

    def recording(model, *args, **kwargs):
        scores = validate(model, *args, **kwargs)
        snapshots.append(({k: v.detach().clone() for k, v in model.state_dict().items()}, scores[0], scores[1]))
        return scores
    refine_module.validation_scores = recording
    ctx = RunContext(config=config, run_dir=ROOT / ".cache" / "selection-dev" / f"{name}-{seed}")
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    run_stages(ctx, ["prepare", "align", "refine"], lambda event: None)
    train_s = time.time() - started
    ds, model, info = ctx.dataset, ctx.model, ctx.build_info
    metric = TASK_METRICS.get(ds.task)

    def outputs(weights: dict, x: np.ndarray, tta: bool = False) -> np.ndarray:
        model.load_state_dict(weights)
        if not (tta and ds.modality in ("sequence", "image")):
            return model_outputs(model, x)
        offset = max(1, x.shape[-1] // 20)  # along the last axis only, at least one position, edges repeated
        index = np.arange(x.shape[-1])
        copies = np.stack([model_outputs(model, np.ascontiguousarray(np.take(x, np.clip(index - moved, 0, x.shape[-1] - 1),
                                                                               axis=-1)))
                           for moved in (0, -offset, offset)])
        if ds.task == "classification":  # the mean of the probabilities, as log-probabilities
            return np.log(np.mean([to_task_units(c, info) for c in copies], axis=0) + 1e-9)
        return copies.mean(axis=0)

    def score(raw: np.ndarray, y: np.ndarray) -> float:
        scored = raw if ds.task in ("classification", "multilabel") else to_task_units(raw, info)
        return float(metric.compute(y, scored)[metric.selection])

    def better_or_equal(a: float, b: float) -> bool:
        return a >= b if metric.higher_is_better else a <= b

    results: dict = {}

    def add(key: str, weights: dict | None = None, raws: tuple | None = None, tta: bool = False) -> None:
        val, test = raws if raws is not None else (outputs(weights, ds.x_val, tta), outputs(weights, ds.x_test, tta))
        results[key] = [round(score(val, ds.y_val), 4), round(score(test, ds.y_test), 4)]

    best = {k: v.clone() for k, v in model.state_dict().items()}  # the metric rule's kept checkpoint
    add("best", best)
    add("best+tta", best, tta=True)
    add("last", snapshots[-1][0])
    second_half = [w for w, _, _ in snapshots[len(snapshots) // 2:]]
    add("swa-half", averaged(second_half))
    add("swa-half+tta", averaged(second_half), tta=True)
    # greedy soup (Wortsman et al. 2022): best-first, a checkpoint joins if validation is not worse
    sign = 1 if metric.higher_is_better else -1
    order = sorted(range(len(snapshots)), reverse=True,
                   key=lambda i: (sign * snapshots[i][2].get(metric.selection, float("nan")), -snapshots[i][1]))
    soup = [snapshots[order[0]][0]]
    current = score(outputs(soup[0], ds.x_val), ds.y_val)
    for i in order[1:]:
        trial = score(outputs(averaged(soup + [snapshots[i][0]]), ds.x_val), ds.y_val)
        if better_or_equal(trial, current):
            soup.append(snapshots[i][0])
            current = trial
    add("greedy-soup", averaged(soup))
    results["greedy-soup-n"] = len(soup)
    top = [snapshots[i][0] for i in order[:3]]  # an output ensemble of the three best checkpoints
    add("top3-ens", raws=(np.mean([outputs(w, ds.x_val) for w in top], axis=0),
                          np.mean([outputs(w, ds.x_test) for w in top], axis=0)))
    return {"name": name, "seed": seed, "task": ds.task, "selection": metric.selection, "checks": len(snapshots),
            "train_s": round(train_s), "steps": ctx.metrics["refine"]["steps"], "res": results}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make-digit-sequences"]:
        make_digit_sequences(Path(sys.argv[2]))
    else:
        print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                              json.loads(sys.argv[4]) if len(sys.argv) > 4 else {})), flush=True)
