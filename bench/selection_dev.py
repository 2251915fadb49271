"""Selection and prediction variants on development data, from one training run each: the evidence
for refine.select_on = auto (last weights under 50 validation samples), refine.tta and refine.soup
(docs/RECIPE.md). Only development data: cuts of the bundled examples and the digits written as
sequences (`--make-digit-sequences`), never the real-data benchmark sets or the aeon wheel's others.

    python bench/selection_dev.py --make-digit-sequences .cache/dev        # writes two .npz files
    python bench/selection_dev.py syn synthetic-signals 0 '{"data.train_fraction": 0.06, "refine.tta": "none"}'
    python bench/selection_dev.py dseq .cache/dev/digits_seq80.npz 1 '{"data.modality": "sequence", "refine.tta": "none"}'

Each call trains once (prepare, align, refine under the given overrides), snapshots the weights at
every validation check, then scores on validation and test: the best checkpoint, it with test-time
shifts, the last weights, a greedy soup, a top-3 output ensemble and a uniform average of the second
half. One JSON line goes to stdout. Pass "refine.tta": "none" and "refine.soup": "none" so the
variants start from the plain model.
"""
import copy
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orca_engine.config import RunConfig  # noqa: E402
from orca_engine.stages import RunContext, run_stages
R = importlib.import_module("orca_engine.stages.refine")  # the module, not the stage function
from orca_engine.predict import model_outputs, to_task_units
from orca_engine.metrics import TASK_METRICS

if sys.argv[1:2] == ["--make-digit-sequences"]:
    from sklearn.datasets import load_digits
    out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
    digits = load_digits(); order = np.random.default_rng(0).permutation(len(digits.target))
    flat, rows, y = digits.data.astype(np.float32).reshape(-1, 1, 64), digits.data.astype(np.float32).reshape(-1, 8, 8), digits.target
    for name, x, train, test in (("digits_seq80", flat, order[:80], order[80:580]),
                                 ("digits_rows60", rows, order[1000:1060], order[1100:1600])):
        np.savez(out / f"{name}.npz", x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test])
    sys.exit(0)
name, data, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
cfg = RunConfig().with_overrides({"data.source": data, "seed": seed, "evaluate.baselines": "none",
                                  "align.projection_every": 0, **over})
snaps = []
orig = R.validation_scores
def hooked(model, x, y, info, loss_fn, autocast=None, parallel=None):
    out = orig(model, x, y, info, loss_fn, autocast, parallel)
    snaps.append(({k: v.detach().clone() for k, v in model.state_dict().items()}, out[0], out[1]))
    return out
R.validation_scores = hooked
ctx = RunContext(config=cfg, run_dir=Path(f".cache/selection-dev/{name}-{seed}"))
ctx.run_dir.mkdir(parents=True, exist_ok=True)
t0 = time.time()
run_stages(ctx, ["prepare", "align", "refine"], lambda e: None)
train_s = time.time() - t0
ds, model, info = ctx.dataset, ctx.model, ctx.build_info
task = ds.task
M = TASK_METRICS.get(task); sel = M.selection
best_state = copy.deepcopy(model.state_dict())
def outs(state, x, tta=False):
    model.load_state_dict(state)
    raw = model_outputs(model, x)
    if tta and ds.modality in ("sequence", "image"):
        L = x.shape[-1]; s = max(1, L // 20)
        acc = [raw]
        for sh in (-s, s):
            xs = np.roll(x, sh, axis=-1)
            if sh > 0: xs[..., :sh] = x[..., :1]
            else: xs[..., sh:] = x[..., -1:]
            acc.append(model_outputs(model, xs))
        raw = np.mean(acc, axis=0) if task != "classification" else np.log(np.mean([to_task_units(a, info) for a in acc], axis=0) + 1e-9)
    return raw
def score(raw, y):
    scored = raw if task in ("classification", "multilabel") else to_task_units(raw, info)
    return M.compute(y, scored)[sel]
def avg(states):
    return {k: (sum(s[k].float() for s in states) / len(states)).to(states[0][k].dtype) if states[0][k].is_floating_point() else states[0][k] for k in states[0]}
res = {}
def add(key, state=None, raws=None, tta=False):
    if raws is None:
        rv, rt = outs(state, ds.x_val, tta), outs(state, ds.x_test, tta)
    else:
        rv, rt = raws
    res[key] = (round(float(score(rv, ds.y_val)), 4), round(float(score(rt, ds.y_test)), 4))
add("best", best_state)
add("best+tta", best_state, tta=True)
add("last", snaps[-1][0])
n = len(snaps); half = [s[0] for s in snaps[n // 2:]]
add("swa-half", avg(half))
# greedy soup (Wortsman 2022): candidates by validation metric, keep if val not worse
def val_key(s):
    v = s[2].get(sel, float("nan")); return (v if M_higher else -v, -s[1])
M_higher = task == "classification" or sel in ("accuracy", "r2", "f1", "macro_f1")
order = sorted(range(n), key=lambda i: val_key(snaps[i]), reverse=True)
soup = [snaps[order[0]][0]]; cur = score(outs(soup[0], ds.x_val), ds.y_val)
for i in order[1:]:
    trial = avg(soup + [snaps[i][0]]); v = score(outs(trial, ds.x_val), ds.y_val)
    if (v >= cur) if M_higher else (v <= cur):
        soup.append(snaps[i][0]); cur = v
add("greedy-soup", avg(soup)); res["greedy-soup-n"] = len(soup)
# top-3 output ensemble
top = [snaps[i][0] for i in order[:3]]
rv = np.mean([outs(s, ds.x_val) for s in top], 0); rt = np.mean([outs(s, ds.x_test) for s in top], 0)
add("top3-ens", raws=(rv, rt))
add("swa-half+tta", avg(half), tta=True)
print(json.dumps({"name": name, "seed": seed, "task": task, "sel": sel, "n_snaps": n, "train_s": round(train_s),
                  "steps": ctx.metrics["refine"]["steps"], "res": res}), flush=True)
