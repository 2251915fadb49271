"""Classical baselines beside every result: what a pretrained transformer has to beat.

Each baseline is a registered record: which data it suits, its estimated cost, and a fit that
trains on the training split only, may choose a setting on validation, and scores test once.

    results, skipped = run_baselines(dataset, level="all", seed=0, max_seconds=120)
    verdict(task, orca_test, orca_seconds, results)   # one honest line

| baseline | suits | level |
|---|---|---|
| logistic / ridge regression on flattened inputs | every dataset | linear |
| 1-NN Euclidean | every dataset | all |
| 1-NN DTW (10% window) | sequences | all |
| MiniRocket + ridge | sequences of 9+ steps | all |

To add one: write `fit(dataset, seed) -> BaselineResult` and `seconds(dataset) -> float`, and
register a `Baseline` record below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..metrics import TASK_METRICS
from ..registry import Registry
from .linear import classical_baseline, family_for, flattened
from .minirocket import minirocket, minirocket_seconds
from .neighbors import dtw_seconds, one_nn
from .result import BaselineResult

LEVELS = ("none", "linear", "all")


@dataclass(frozen=True)
class Baseline:
    name: str
    level: str  # the lowest `evaluate.baselines` level that includes it: "linear" or "all"
    suits: Callable[[object], bool]  # dataset -> whether it applies
    seconds: Callable[[object], float]  # dataset -> estimated cost
    fit: Callable[[object, int], BaselineResult]  # (dataset, seed) -> result


def _flat_size(ds) -> int:
    return int(ds.x_train[0].size) if len(ds.x_train) else 0


def _linear_seconds(ds) -> float:
    return len(ds.x_train) * _flat_size(ds) * 300 * 4 / 1e9 + 0.2


def _is_sequence(ds) -> bool:
    return ds.modality == "sequence" and ds.x_train.ndim == 3


BASELINES: Registry[Baseline] = Registry("baseline")
BASELINES.register("linear", Baseline("linear", "linear", lambda ds: True, _linear_seconds,
                                      lambda ds, seed: classical_baseline(ds, seed)))
BASELINES.register("1nn-euclidean", Baseline(
    "1-NN Euclidean", "all", lambda ds: True,
    lambda ds: len(ds.x_train) * (len(ds.x_val) + len(ds.x_test)) * _flat_size(ds) / 2e9 + 0.05,
    lambda ds, seed: one_nn(ds, "euclidean", seed)))
BASELINES.register("1nn-dtw", Baseline("1-NN DTW", "all", _is_sequence, dtw_seconds,
                                       lambda ds, seed: one_nn(ds, "dtw", seed)))
BASELINES.register("minirocket", Baseline("MiniRocket", "all", lambda ds: _is_sequence(ds) and ds.x_train.shape[-1] >= 9,
                                          minirocket_seconds, minirocket))


def run_baselines(dataset, level: str = "all", seed: int = 0,
                  max_seconds: float = 120.0) -> tuple[list[BaselineResult], dict[str, str]]:
    """Fit every registered baseline that suits `dataset` at `level`; skip (with the reason) those
    whose estimated cost exceeds `max_seconds`. Returns (results, {name: why skipped})."""
    wanted = LEVELS.index(level)
    results, skipped = [], {}
    too_big = _lazy_and_too_big(dataset)
    if too_big:
        return [], {record.name: too_big for _, record in BASELINES.items()
                    if LEVELS.index(record.level) <= wanted and record.suits(dataset)}
    for _, record in BASELINES.items():
        if LEVELS.index(record.level) > wanted or not record.suits(dataset):
            continue
        cost = record.seconds(dataset)
        if cost > max_seconds:
            skipped[record.name] = (f"estimated {cost:.0f} s > evaluate.baseline_seconds = {max_seconds:g}")
            continue
        try:
            results.append(record.fit(dataset, seed))
        except Exception as e:  # noqa: BLE001 - a baseline failing must not fail the run
            skipped[record.name] = f"failed: {type(e).__name__}: {e}"
    return results, skipped


LAZY_BASELINE_MB = 64  # baselines fit on whole arrays: inputs read from disk lazily are not loaded past this


def _lazy_and_too_big(dataset) -> str:
    """Why no baseline runs on inputs left on disk (data/lazy.py) that are too large to load; else ''."""
    if not getattr(dataset.x_train, "lazy", False):
        return ""
    total = sum(getattr(x, "nbytes", 0) for x in (dataset.x_train, dataset.x_val, dataset.x_test))
    if total <= LAZY_BASELINE_MB << 20:
        return ""
    return (f"the inputs are read from disk lazily ({total / 2**20:.0f} MiB); the baselines would load them whole "
            f"(more than {LAZY_BASELINE_MB} MiB)")


def best_baseline(task: str, results: list[BaselineResult]) -> BaselineResult | None:
    """The baseline with the best *validation* selection metric (choosing on test would flatter it)."""
    metrics = TASK_METRICS.get(task)
    scored = [r for r in results if metrics.selection in r.validation and metrics.selection in r.test]
    if not scored:
        return None
    sign = 1 if metrics.higher_is_better else -1
    return max(scored, key=lambda r: sign * r.validation[metrics.selection])


def _margin(delta: float) -> str:
    """The margin in words a reader cannot misread: who is ahead, by how much."""
    if delta == 0:
        return "level"
    return f"{abs(delta):.4g} {'in ORCA' if delta > 0 else 'in the baseline'}'s favour"


def verdict(task: str, orca_test: dict[str, float], orca_seconds: float,
            results: list[BaselineResult]) -> dict:
    """One honest line: did ORCA beat the best baseline (chosen on validation), by how much, at what cost."""
    metrics = TASK_METRICS.get(task)
    key = metrics.selection
    best = best_baseline(task, results)
    if best is None or key not in orca_test:
        return {"text": "no baseline to compare with", "beat": None}
    ours, theirs = orca_test[key], best.test[key]
    delta = ours - theirs if metrics.higher_is_better else theirs - ours
    beat = delta > 0
    word = "beat" if beat else ("tied with" if delta == 0 else "did not beat")
    text = (f"ORCA {word} the best baseline ({best.model}, chosen on validation): test {key} {ours:.4g} vs "
            f"{theirs:.4g} ({_margin(delta)}), in {orca_seconds:.0f} s of "
            f"training vs {best.seconds:.1f} s")
    return {"text": text, "beat": bool(beat), "metric": key, "orca": ours, "baseline": best.model,
            "baseline_value": theirs, "margin": delta, "orca_seconds": orca_seconds,
            "baseline_seconds": best.seconds}


__all__ = ["BASELINES", "Baseline", "BaselineResult", "run_baselines", "best_baseline", "verdict",
           "classical_baseline", "family_for", "flattened", "LEVELS"]
