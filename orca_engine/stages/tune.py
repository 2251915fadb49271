"""Stage "tune": ORCA's per-task hyperparameter search, on the validation split, inside a budget.

The paper searched hyperparameters per task; so does this stage, opt-in (`run --tune`, or
`stages=("tune", "evaluate")`). Each trial is a whole align + refine on the training split with a
fresh model, scored by its kept checkpoint on the validation split (the same rule that picks
checkpoints: the validation metric, ties broken by the loss, unless refine.select_on = loss).
Optuna's TPE sampler proposes the settings; the first trial is always the run's own settings, so
tuning cannot do worse than them on validation. The best trial's
model and config become the run's; the evaluate stage then scores test once. Test is never seen.

    SEARCH_SPACE: the searched options (dotted config names) and their ranges
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..events import Event, StageFinished, StageStarted, TrialFinished, WarningRaised
from .context import RunContext
from .prepare import run_model, seed_everything
from .runner import run_stages


@dataclass(frozen=True)
class Searched:
    """One searched option: a log-uniform range (low, high) or a list of choices."""
    name: str  # dotted config name
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        if self.choices:
            return trial.suggest_categorical(self.name, list(self.choices))
        return trial.suggest_float(self.name, self.low, self.high, log=True)


LOSS_TIE_WEIGHT = 5e-5

SEARCH_SPACE = (
    Searched("refine.lr", 3e-5, 1e-3),
    Searched("refine.new_layers_lr_scale", 1.0, 30.0),
    Searched("refine.batch_size", choices=(8, 16, 32)),
    Searched("refine.min_steps", choices=(150, 300, 600)),
    Searched("refine.weight_decay", choices=(0.0, 0.01, 0.1)),
    Searched("refine.head_first_fraction", choices=(0.0, 0.3)),
    Searched("refine.augment", choices=("auto", "on", "none")),
    Searched("model.max_tokens", choices=(16, 32, 64)),
    Searched("align.lr", 1e-3, 3e-2),
    Searched("align.steps", choices=(0, 100, 300)),
)


def _own_settings(config) -> dict[str, Any]:
    """The run's own values of the searched options: the first trial runs with exactly these."""
    return {s.name: getattr(getattr(config, s.name.split(".")[0]), s.name.split(".")[1]) for s in SEARCH_SPACE}


def _defaults(config) -> dict[str, Any]:
    """The run's own settings as the sampler records the first trial: the nearest point of the
    search space (an automatic batch size 0 is recorded as 8, a step floor of 500 as 600)."""
    flat, own = {}, _own_settings(config)
    for s in SEARCH_SPACE:
        value = own[s.name]
        if s.choices:
            value = value if value in s.choices else min(s.choices, key=lambda c: abs(c - value))
        else:
            value = float(min(max(value, s.low), s.high))
        flat[s.name] = value
    return flat


def _trial_overrides(params: dict[str, Any], scale: float) -> dict[str, Any]:
    overrides = dict(params)
    overrides["refine.min_steps"] = max(1, int(round(params["refine.min_steps"] * scale)))
    return overrides


def tune(ctx: RunContext) -> Iterator[Event]:
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = ctx.config.tune
    runner = trial_runner(cfg.executor, ctx)
    yield StageStarted("tune", total_steps=cfg.trials)
    started = time.perf_counter()
    minimise = ctx.config.refine.select_on == "loss" or _direction(ctx) == "minimize"
    study = optuna.create_study(direction="minimize" if minimise else "maximize",
                                sampler=optuna.samplers.TPESampler(seed=ctx.config.seed,
                                                                   n_startup_trials=min(4, cfg.trials)))
    study.enqueue_trial(_defaults(ctx.config))
    best: dict[str, Any] | None = None
    rows, scratch = [], Path(tempfile.mkdtemp(prefix="orca-tune-"))
    asked: dict[int, tuple[Any, dict[str, Any]]] = {}  # trial number -> (optuna trial, params), while running
    submitted, seconds_done, stopped_early = 0, [], False
    try:
        while submitted < cfg.trials or asked:
            # keep every slot busy while a trial started now (as long as the mean so far) ends within the budget
            while submitted < cfg.trials and len(asked) < runner.slots and not stopped_early:
                elapsed = time.perf_counter() - started
                mean = sum(seconds_done) / len(seconds_done) if seconds_done else 0.0
                if seconds_done and elapsed + mean > cfg.max_seconds:
                    stopped_early = True
                    yield WarningRaised("tune", f"stopped after {submitted} trials: the next would pass "
                                                f"tune.max_seconds = {cfg.max_seconds:g}")
                    break
                ctx.control.checkpoint()
                submitted += 1
                trial = study.ask()
                params = {s.name: s.suggest(trial) for s in SEARCH_SPACE}
                if submitted == 1:  # the run's own settings, exactly; the sampler saw their nearest point
                    params = _own_settings(ctx.config)
                asked[submitted] = (trial, params)
                runner.submit(submitted, _trial_overrides(params, cfg.trial_steps_scale), scratch / str(submitted))
            if not asked:
                break
            ctx.control.checkpoint()
            number, outcome = runner.next_done()
            trial, params = asked.pop(number)
            value = outcome["value"]
            seconds_done.append(outcome["seconds"])
            study.tell(trial, value if math.isfinite(value) else None,
                       state=None if math.isfinite(value) else optuna.trial.TrialState.FAIL)
            improved = math.isfinite(value) and (best is None or (value < best["value"] if minimise
                                                                  else value > best["value"]))
            if improved:
                best = {**outcome, "number": number, "params": params}
            row = {"trial": number, "params": params, "value": value, "metrics": outcome["validation"],
                   "seconds": outcome["seconds"], "best": improved}
            rows.append(row)
            yield TrialFinished("tune", number, cfg.trials, params, value, outcome["validation"],
                                outcome["seconds"], improved)
    finally:
        runner.close()
        shutil.rmtree(scratch, ignore_errors=True)
    rows.sort(key=lambda r: r["trial"])
    if best is None:
        yield WarningRaised("tune", "no trial finished with a finite validation score; kept the prepared model")
        yield StageFinished("tune", metrics={"trials": rows})
        return
    # The best trial's model, config and records become the run's.
    ctx.model, ctx.config, ctx.build_info = best["model"].to(ctx.device), best["config"], best["build_info"]
    for key in ("align", "refine", "refine_budget", "validation"):
        if key in best["metrics"]:
            ctx.metrics[key] = best["metrics"][key]
    ctx.metrics["tune"] = {"trials": rows, "best_trial": best["number"], "best_params": best["params"],
                           "objective": f"validation {'loss' if ctx.config.refine.select_on == 'loss' else 'metric'}",
                           "executor": cfg.executor, "parallel_trials": runner.slots,
                           "config": ctx.config.to_dict(),
                           "seconds": round(time.perf_counter() - started, 2)}
    ctx.metrics.setdefault("seconds", {})["tune"] = ctx.metrics["tune"]["seconds"]
    for stage in ("align", "refine"):
        ctx.metrics["seconds"][stage] = best["metrics"].get("seconds", {}).get(stage, 0.0)
    ctx.stages_done.extend(["align", "refine"])
    yield StageFinished("tune", metrics={"best_trial": best["number"], "best_params": best["params"],
                                         "validation": ctx.metrics.get("validation", {})})


def _direction(ctx: RunContext) -> str:
    from ..metrics import TASK_METRICS
    return "maximize" if TASK_METRICS.get(ctx.dataset.task).higher_is_better else "minimize"


def _trial_context(ctx: RunContext, overrides: dict[str, Any], folder: Path) -> RunContext:
    """A fresh context for one trial: the run's prepared data and source features, `overrides` on its config."""
    config = ctx.config.with_overrides(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    return RunContext(config=config, run_dir=folder, control=ctx.control, cache_dir=ctx.cache_dir,
                      device=ctx.device, dataset=ctx.dataset, source=ctx.source, target_labels=ctx.target_labels,
                      build_info=ctx.build_info)


def train_trial(trial: RunContext) -> dict[str, Any]:
    """Align and refine a fresh model in `trial`; the trial's events stay inside it. Returns its
    score (the selection rule's value), validation metrics, model, build info, config and seconds."""
    config = trial.config
    seed_everything(config.seed)
    trial.model = run_model(config, trial.dataset, trial.device)
    started = time.perf_counter()
    run_stages(trial, ("align", "refine"), emit=lambda _event: None)
    refined = trial.metrics.get("refine", {})
    loss, value = refined.get("best_validation_loss"), refined.get("best_validation")
    rule = refined.get("selected_on", config.refine.select_on)
    score = loss if rule == "loss" else value
    score = float(score) if score is not None and np.isfinite(score) else float("nan")
    if rule != "loss" and trial.dataset.task in ("classification", "multilabel") \
            and loss is not None and np.isfinite(loss):
        # accuracy on a small validation split ties often: the loss breaks ties (LOSS_TIE_WEIGHT is
        # below any accuracy step of a split under 2,000 samples, so it never overrules the metric)
        score -= LOSS_TIE_WEIGHT * min(float(loss), 10.0)
    return {"value": score, "validation": trial.metrics.get("validation", {}), "model": trial.model,
            "build_info": trial.build_info, "config": config, "metrics": trial.metrics,
            "seconds": round(time.perf_counter() - started, 2)}


# -- where trials run: here, one at a time, or as Ray tasks ------------------------------------------

def trial_runner(executor: str, ctx: RunContext):
    """`tune.executor`: 'serial' -> SerialTrials; 'ray' / 'ray:ADDRESS' -> RayTrials."""
    from ..raytools import parse_executor
    name, address = parse_executor(executor, "tune.executor =")
    return SerialTrials(ctx) if name == "serial" else RayTrials(ctx, address)


class SerialTrials:
    """One trial at a time in this process, as the stage always ran them."""
    slots = 1

    def __init__(self, ctx: RunContext):
        self.ctx, self.queue = ctx, []

    def submit(self, number: int, overrides: dict[str, Any], folder: Path) -> None:
        self.queue.append((number, overrides, folder))

    def next_done(self) -> tuple[int, dict[str, Any]]:
        number, overrides, folder = self.queue.pop(0)
        return number, train_trial(_trial_context(self.ctx, overrides, folder))

    def close(self) -> None:
        self.queue.clear()


class RayTrials:
    """Trials as Ray tasks, one CPU each (one GPU each when the run is on a GPU), as many at once as
    the cluster has CPUs when the stage starts. Each task gets the run's prepared data and source
    features through Ray's object store (nothing is loaded again) and returns its trial's model on
    the CPU. The sampler proposes each new trial from the results back so far, so a parallel search
    differs from a serial one at the same seed after its first trials."""

    def __init__(self, ctx: RunContext, address: str | None):
        from ..raytools import start_ray
        self.ray = start_ray(address, "tune.executor = ray")
        self.ctx = ctx
        self.gpus = 1 if ctx.device is not None and ctx.device.type == "cuda" else 0
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, min(ctx.config.tune.trials, cpus))
        self.task = self.ray.remote(num_cpus=1, num_gpus=self.gpus)(train_trial_remotely)
        self.pending: dict[Any, int] = {}

    def submit(self, number: int, overrides: dict[str, Any], folder: Path) -> None:
        trial = _trial_context(self.ctx, overrides, folder)
        trial.source = _on_cpu(trial.source)
        trial.device = None  # the task picks its own device
        self.pending[self.task.remote(trial)] = number

    def next_done(self) -> tuple[int, dict[str, Any]]:
        done, _ = self.ray.wait(list(self.pending), num_returns=1)
        number = self.pending.pop(done[0])
        return number, self.ray.get(done[0])

    def close(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending.clear()


def _on_cpu(source):
    import dataclasses
    if source is None:
        return None
    return dataclasses.replace(source, features=source.features.cpu(), labels=source.labels.cpu())


def train_trial_remotely(trial: RunContext) -> dict[str, Any]:
    """A Ray task: one trial on this worker's device, in a scratch folder; the model comes back on the CPU."""
    import dataclasses

    import torch
    torch.set_num_threads(1)
    trial.device = torch.device("cuda" if torch.cuda.is_available() and torch.cuda.device_count() else "cpu")
    if trial.source is not None:
        trial.source = dataclasses.replace(trial.source, features=trial.source.features.to(trial.device),
                                           labels=trial.source.labels.to(trial.device))
    with tempfile.TemporaryDirectory(prefix="orca-trial-") as scratch:
        trial.run_dir = Path(scratch)
        outcome = train_trial(trial)
    outcome["model"] = outcome["model"].cpu()
    return outcome
