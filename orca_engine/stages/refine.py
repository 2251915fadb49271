"""Stage 2, refine: fine-tune embedder, body and predictor on the task loss.

The budget is counted in optimiser steps and sized to the data (`budget.refine_budget`): batch
size follows the training-set size, a floor of steps lets small data learn, a cap keeps large
data affordable. Validation runs every `eval_every` steps; the kept checkpoint is chosen on the
validation split only (`CheckpointSelector`), restored at the end, and written to the run folder
as it improves, so a killed run can still predict. The test split is never looked at here.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..contracts import BuildInfo
from ..diagnostics import chance_warning, loss_not_falling_warning, one_class_warning
from ..events import Event, StageFinished, StageStarted, StepLogged, ValidationLogged, WarningRaised
from ..hardware import autocast_dtype as precision_autocast
from ..hardware import batch_to_device, fused_optimizer_options, split_as_tensor
from ..metrics import TASK_METRICS, is_improvement
from ..predict import model_outputs, to_task_units
from .augment import describe as describe_augmentation, describe_tta, make_augmentation, test_time_shift
from .budget import refine_budget
from .context import RunContext

# write the best weights to disk at most this often (a body is ~100 MB); a setting for tests and for
# machines where losing more than a minute of refinement matters
CHECKPOINT_EVERY_S = float(os.environ.get("ORCA_CHECKPOINT_EVERY_S", "30"))
LOSS_TIE = 0.005  # validation losses within 0.5% of each other count as tied: the task metric decides


def task_loss(task: str, class_weights: torch.Tensor | None = None):
    """Loss on raw outputs: cross-entropy, BCE-with-logits, or MSE on standardised targets."""
    if task == "classification":
        return lambda out, y: F.cross_entropy(out, y, weight=class_weights)
    if task == "multilabel":
        return lambda out, y: F.binary_cross_entropy_with_logits(out, y)
    return lambda out, y: F.mse_loss(out, y)


def inverse_frequency_weights(y: np.ndarray, num_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    weights = len(y) / (num_classes * np.maximum(counts, 1))
    return torch.as_tensor(weights, dtype=torch.float32)


def run_loss(cfg, ds, device: torch.device | str = "cpu"):
    """The run's task loss, with inverse-frequency class weights (on `device`) when refine.class_weights asks."""
    weights = (inverse_frequency_weights(ds.y_train, ds.num_outputs).to(device)
               if cfg.class_weights and ds.task == "classification" else None)
    return task_loss(ds.task, weights)


def training_targets(y: np.ndarray, build_info: BuildInfo) -> torch.Tensor:
    """Labels as the loss wants them: int64 classes, or float targets standardised with train stats."""
    if build_info.task == "classification":
        return torch.as_tensor(y, dtype=torch.long)
    if build_info.task == "multilabel":
        return torch.as_tensor(y, dtype=torch.float32)
    mean = np.asarray(build_info.target_mean, dtype=np.float32)
    std = np.asarray(build_info.target_std, dtype=np.float32)
    return torch.as_tensor((np.asarray(y, dtype=np.float32) - mean) / std, dtype=torch.float32)


def warmup_then_linear_decay(total_steps: int, warmup_fraction: float, start: int = 0):
    """Learning-rate factor at a step: 0 before `start`, then a linear warm-up over
    `warmup_fraction` of the remaining steps, then a linear decay to 0 at `total_steps`."""
    span = max(1, total_steps - start)
    warmup = max(1, int(span * warmup_fraction)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < start:
            return 0.0
        step -= start
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (span - step) / max(1, span - warmup))
    return factor


def group_schedules(groups: list[dict], total_steps: int, warmup_fraction: float, head_first_fraction: float):
    """One factor function per optimiser group: the new layers start at once; with LP-FT the
    pretrained body waits `head_first_fraction` of the steps (a head fitted first distorts the
    pretrained features less when the body joins: Kumar et al., ICLR 2022)."""
    body_start = int(total_steps * head_first_fraction)
    return [warmup_then_linear_decay(total_steps, warmup_fraction, 0 if g.get("new_layers") else body_start)
            for g in groups]


def make_optimizer(name: str, groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """The refinement optimiser; each group already carries its rate and weight decay. AdamW runs
    fused where the device has fused kernels (hardware.fused_optimizer_options: same rule, fewer
    passes over memory)."""
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9)
    return torch.optim.AdamW(groups, lr=lr, **fused_optimizer_options(p for g in groups for p in g["params"]))


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches forever: a fresh permutation each epoch, full batches only (a 2-sample
    remainder makes a noisy step; the next epoch's shuffle uses those samples)."""
    while True:
        order = torch.randperm(n, generator=generator)
        usable = max(batch_size, n - n % batch_size) if n >= batch_size else n
        yield from order[:usable].split(batch_size)


def validation_scores(model, x: np.ndarray, y: np.ndarray, build_info: BuildInfo, loss_fn,
                      autocast_dtype=None, parallel=None) -> tuple[float, dict[str, float], np.ndarray]:
    """(task loss, task metrics, raw outputs) of `model` on a held-out split. With several
    processes (`parallel`), each computes a share of the outputs and every rank gets them all."""
    infer = lambda rows: model_outputs(model, rows, autocast_dtype=autocast_dtype)  # noqa: E731
    raw = parallel.gather_rows(infer, x) if parallel is not None else infer(x)
    task = build_info.task
    scored = raw if task in ("classification", "multilabel") else to_task_units(raw, build_info)
    metrics = TASK_METRICS.get(task).compute(y, scored)
    loss = float("nan")
    if loss_fn is not None and len(raw):
        loss = float(loss_fn(torch.as_tensor(raw, dtype=torch.float32), training_targets(y, build_info)))
    return loss, metrics, raw


SMALL_VALIDATION = 50  # under this many validation samples, `select_on = auto` keeps the last weights (classification)


def selection_rule(select_on: str, task: str, n_val: int) -> tuple[str, str]:
    """refine.select_on resolved for a run, with the reason for its run folder.

    `auto` keeps the last step's weights for classification when the validation split has fewer
    than SMALL_VALIDATION samples: one sample is then 2+ points of accuracy, the best of ~20 checks
    is mostly the luckiest, and on development data the last weights (the end of the decayed
    schedule) tested as well or better than the validation pick on every such split
    (docs/RECIPE.md). Otherwise the metric rule."""
    if select_on != "auto":
        return select_on, f"refine.select_on = {select_on}"
    if task in ("classification", "multilabel") and n_val < SMALL_VALIDATION:
        return "last", (f"automatic: {n_val} validation samples (under {SMALL_VALIDATION}) cannot tell checkpoints "
                        "apart, so the weights at the end of the schedule are kept")
    return "metric", f"automatic: the validation {TASK_METRICS.get(task).selection}, ties broken by the loss"


class CheckpointSelector:
    """Which validation checkpoint to keep.

    `select_on="metric"` (default): the task's selection metric, ties broken by the validation
    loss. On a validation split of eight samples accuracy moves in steps of 1/8 and ties
    constantly; the loss (cross-entropy, or MSE on standardised targets) uses every sample's
    confidence and orders the tied checkpoints finely.
    `select_on="last"`: every checkpoint replaces the previous one, so the last step's weights are
    kept and early stopping never acts (a validation split too small to choose with).
    `select_on="loss"`: the lowest validation loss, with losses within LOSS_TIE of each other
    treated as tied and the task metric deciding. It leans towards earlier, less over-confident
    checkpoints; on the bundled examples with 50-60 training samples it kept checkpoints 2-8 points
    less accurate than the metric rule (docs/RECIPE.md).
    """

    def __init__(self, task: str, select_on: str):
        self.task, self.select_on = task, select_on
        self.selection = TASK_METRICS.get(task).selection
        self.loss: float | None = None
        self.value: float | None = None
        self.metrics: dict[str, float] = {}
        self.step = 0

    def offer(self, step: int, loss: float, metrics: dict[str, float]) -> bool:
        """Record a checkpoint's scores; True if it becomes the kept one."""
        value = metrics.get(self.selection, float("nan"))
        if not self._better(loss, value):
            return False
        self.loss, self.value, self.metrics, self.step = loss, value, metrics, step
        return True

    def _better(self, loss: float, value: float) -> bool:
        if self.select_on == "last":
            return True
        if self.step == 0:
            return np.isfinite(loss) or np.isfinite(value)
        loss_ok = np.isfinite(loss) and self.loss is not None and np.isfinite(self.loss)
        if self.select_on == "loss" and loss_ok:
            if loss < self.loss * (1 - LOSS_TIE) - 1e-12:
                return True
            return loss <= self.loss * (1 + LOSS_TIE) + 1e-12 and is_improvement(self.task, value, self.value)
        if is_improvement(self.task, value, self.value):
            return True
        return value == self.value and loss_ok and loss < self.loss


SOUP_CANDIDATES = 4  # best validation checkpoints a weight soup may average (copies of the weights, on CPU)


def soup_applies(mode: str, task: str) -> bool:
    """refine.soup: `auto` averages checkpoints for regression, where on development data the soup
    lowered test MSE on every seed and classification was unchanged (docs/RECIPE.md)."""
    return mode == "on" or (mode == "auto" and task == "regression")


class SoupCandidates:
    """The `size` best validation checkpoints, in the selector's order (`select_on`: the metric, then
    the loss; or the loss, then the metric)."""

    def __init__(self, task: str, select_on: str = "metric", size: int = SOUP_CANDIDATES):
        self.task, self.select_on, self.size = task, select_on, size
        self.higher = TASK_METRICS.get(task).higher_is_better
        self.selection = TASK_METRICS.get(task).selection
        self.items: list[tuple[tuple[float, float], int, dict[str, torch.Tensor]]] = []  # (rank, step, weights)

    def rank(self, loss: float, metrics: dict[str, float]) -> tuple[float, float]:
        value = metrics.get(self.selection, float("nan"))
        oriented = value if self.higher else -value
        ranked = (oriented if np.isfinite(oriented) else -math.inf, -loss if np.isfinite(loss) else -math.inf)
        return ranked[::-1] if self.select_on == "loss" else ranked

    def offer(self, step: int, loss: float, metrics: dict[str, float], model: torch.nn.Module) -> None:
        rank = self.rank(loss, metrics)
        if len(self.items) >= self.size and rank <= self.items[-1][0]:
            return
        weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.items = sorted(self.items + [(rank, step, weights)], key=lambda item: item[0], reverse=True)[:self.size]


def averaged_weights(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point weights; other tensors (ids, counters) from the first."""
    first = states[0]
    return {k: (torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v)
            for k, v in first.items()}


def greedy_soup(candidates: SoupCandidates, score) -> tuple[dict[str, torch.Tensor], dict]:
    """Wortsman et al. (ICML 2022): from the best checkpoint, add each next-best one to the average
    only if the averaged weights score at least as well on validation. `score(weights)` loads them
    into the model and returns (rank, loss, metrics, raw outputs). Returns the soup's weights and a report."""
    (rank, step, weights), *rest = candidates.items
    members, kept, soup = [weights], [step], weights
    best = score(weights)
    for _, step, weights in rest:
        trial = averaged_weights(members + [weights])
        scored = score(trial)
        if scored[0] >= best[0]:
            members.append(weights)
            kept.append(step)
            soup, best = trial, scored  # the accepted average is the soup so far: no second averaging
    return soup, {"steps": kept, "tried": len(candidates.items), "validation_loss": best[1],
                  "validation": best[2], "raw": best[3]}


@dataclasses.dataclass
class MemberResult:
    """What training one model (one member of a seed ensemble, or the run's only model) left."""
    selector: CheckpointSelector
    losses: list[float]
    best_raw: np.ndarray | None  # the kept weights' validation outputs
    steps: int
    stop_reason: str
    soup_report: dict | None = None

    def summary(self) -> dict:
        out = {"steps": self.steps, "stopped_by": self.stop_reason, "best_step": self.selector.step,
               "best_validation": self.selector.value, "best_validation_loss": self.selector.loss}
        if self.soup_report is not None:
            out["soup"] = {k: self.soup_report[k] for k in ("steps", "candidates", "best_single_validation", "note")}
        return out


def refine(ctx: RunContext) -> Iterator[Event]:
    cfg = ctx.config.refine
    ds = ctx.dataset
    from ..model import OrcaEnsemble
    if isinstance(ctx.model, OrcaEnsemble):  # refined already, several models in one
        from ..errors import ConfigError
        raise ConfigError(f"this run's model is already the average of {len(ctx.model.members)} refined models "
                          "(refine.members); refining it again is not supported: start a new run")
    budget = refine_budget(cfg, len(ds.x_train), len(ds.x_val), ds.task)
    _check_batch_fits_ranks(budget.batch_size, (ctx.parallel.world_size if ctx.parallel else 1))
    ctx.metrics["refine_budget"] = budget.to_dict()
    yield StageStarted("refine", total_steps=budget.all_steps)
    started = time.perf_counter()
    select_on, select_reason = selection_rule(cfg.select_on, ds.task, len(ds.x_val))

    if budget.members == 1:
        result = yield from _train_member(ctx, budget, select_on, started)
        summary = result.summary()
        yield from _diagnose(ctx, result.selector, result.losses, result.best_raw)
        selector = result.selector
        ensemble = None
    else:
        selector, summary, ensemble = yield from _train_ensemble(ctx, budget, select_on, started)
    ctx.metrics["validation"] = {**selector.metrics, **({"loss": selector.loss} if selector.loss is not None else {})}
    ctx.metrics["refine"] = {"steps": summary["steps"], "epochs_run": round(summary["steps"] / budget.steps_per_epoch, 2),
                             "stopped_by": summary["stopped_by"], "selected_on": select_on,
                             "selection_reason": select_reason,
                             "selection_metric": selector.selection, "best_validation": selector.value,
                             "best_validation_loss": selector.loss, "best_step": summary["best_step"]}
    if "soup" in summary:
        ctx.metrics["refine"]["soup"] = summary["soup"]
    if ensemble is not None:
        ctx.metrics["refine"]["ensemble"] = ensemble
    # wall time lives apart from the run's results: results repeat at a seed, seconds never do
    ctx.metrics.setdefault("seconds", {})["refine"] = round(time.perf_counter() - started, 2)
    yield StageFinished("refine", metrics={"validation": ctx.metrics["validation"], **ctx.metrics["refine"],
                                           "budget": budget.to_dict()})


MEMBER_SEED_STRIDE = 1000  # member m draws its batches, augmentation and head from seed + m * this


def _train_ensemble(ctx: RunContext, budget, select_on: str, started: float):
    """`budget.members` models, each trained from the same aligned start (the head drawn afresh, its
    batches and augmentation from its own seed) for the whole step budget; the run's model becomes
    their average (`OrcaEnsemble`), validated as one. Returns (a selector holding the ensemble's
    validation scores, the stage summary, the ensemble report)."""
    import copy
    from ..model import OrcaEnsemble
    ds, model = ctx.dataset, ctx.model
    start = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    trained: list[torch.nn.Module] = []
    results: list[MemberResult] = []
    for member in range(budget.members):
        if member:
            model.load_state_dict(start)
            _redraw_head(model, ctx.config.seed + member * MEMBER_SEED_STRIDE)
        result = yield from _train_member(ctx, budget, select_on, started, member)
        results.append(result)
        last = member == budget.members - 1
        trained.append(model if last else copy.deepcopy(model).to("cpu"))
        if member == 0 and not last and (ctx.parallel is None or ctx.parallel.is_main):
            # a run stopped while later members train still has a model that predicts
            ctx.folder.save_weights(model.state_dict(), ctx.build_info.as_checkpoint(result.steps))
        if result.stop_reason == "time limit":
            break
    for m in trained:
        m.to(ctx.device)
    # a time limit may end the stage after the first member: one model then stays one model
    ensemble = OrcaEnsemble(trained, ds.task).to(ctx.device).eval() if len(trained) > 1 else trained[0]
    ctx.model = ensemble
    ctx.build_info = info = dataclasses.replace(ctx.build_info, members=len(trained))
    autocast = precision_autocast(ctx.config.precision, ctx.device)
    par = ctx.parallel
    val_loss, metrics, raw = validation_scores(ensemble, ds.x_val, ds.y_val, info, run_loss(ctx.config.refine, ds),
                                               autocast, par if par is not None and par.world_size > 1 else None)
    selector = CheckpointSelector(ds.task, "last")
    selector.offer(sum(r.steps for r in results), val_loss, metrics)
    yield from _diagnose(ctx, selector, results[0].losses, raw)
    members = [r.summary() for r in results]
    report = {"members": len(trained), "validation": {**metrics, "loss": val_loss},
              "best_single_validation": _best_of([r.selector.value for r in results], ds.task),
              "member_results": members,
              "note": f"the predictions of {len(trained)} models (seeds {ctx.config.seed} + m x {MEMBER_SEED_STRIDE}) "
                      f"averaged"}
    summary = {"steps": sum(r.steps for r in results), "best_step": None,
               "stopped_by": ", ".join(sorted({r.stop_reason for r in results}))}
    return selector, summary, report


def _best_of(values: list, task: str):
    best = None
    for value in values:
        if value is not None and is_improvement(task, value, best):
            best = value
    return best


def _redraw_head(model, seed: int) -> None:
    """Fresh initial weights for the head (its modules' own initialisation), from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.head.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()


def _train_member(ctx: RunContext, budget, select_on: str, started: float, member: int = 0):
    """Train ctx.model for the step budget and keep its selected weights (or soup). Events are
    numbered after the earlier members' steps, so a live chart runs on. Returns a MemberResult."""
    from ..distributed import SINGLE
    cfg = ctx.config.refine
    ds, model, info = ctx.dataset, ctx.model, ctx.build_info
    par = ctx.parallel or SINGLE  # several processes: data-parallel steps, shared decisions (distributed.py)
    offset = member * budget.total_steps  # event steps continue across members
    seed = ctx.config.seed + member * MEMBER_SEED_STRIDE

    # -- set-up: what trains, at which rates, on which loss ------------------------------------
    model.set_trainable(cfg.scope)
    trained = par.wrap(model)  # after set_trainable: DDP syncs only the parameters that train
    groups = model.parameter_groups(cfg.scope, cfg.weight_decay, lr=cfg.lr, new_layers_scale=cfg.new_layers_lr_scale)
    params = [p for g in groups for p in g["params"]]
    optimizer = make_optimizer(cfg.optimizer, groups, cfg.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, group_schedules(
        groups, budget.total_steps, cfg.warmup_fraction, cfg.head_first_fraction))
    loss_fn, eval_loss_fn = run_loss(cfg, ds, ctx.device), run_loss(cfg, ds)
    # the split as one CPU tensor, converted once rather than per batch; data read lazily from disk
    # (data/lazy.py) stays there and is read a batch at a time
    x_train = None if getattr(ds.x_train, "lazy", False) else split_as_tensor(ds.x_train)
    y_train = training_targets(ds.y_train, info)
    autocast = precision_autocast(ctx.config.precision, ctx.device)  # None for fp32: no autocast
    sampler = batches(len(ds.x_train), budget.batch_size, torch.Generator().manual_seed(seed + 2))
    augment = make_augmentation(cfg.augment, ds.modality, ds.task, torch.Generator().manual_seed(seed + 3),
                                probability=cfg.augment_probability,
                                epochs=budget.epochs)
    ctx.metrics["refine_budget"]["augmentation"] = describe_augmentation(cfg.augment, ds.modality, ds.task,
                                                                         budget.epochs, cfg.augment_probability)
    # test-time augmentation: set before the first validation, so selection sees the model as it will predict
    model.test_time_shift = test_time_shift(cfg.tta, ds.modality, ds.task, augmented=augment is not None)
    ctx.build_info = info = dataclasses.replace(info, test_time_shift=model.test_time_shift)
    ctx.metrics["refine_budget"]["test_time_augmentation"] = describe_tta(cfg.tta, model.test_time_shift)
    # the weights validated and kept: the model itself, or an exponential moving average of it
    averaged = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if cfg.ema > 0 else None)
    kept = averaged.module if averaged is not None else model
    selector = CheckpointSelector(ds.task, select_on)
    candidates = SoupCandidates(ds.task, select_on) if soup_applies(cfg.soup, ds.task) else None
    best_state, best_raw, last_saved, losses, stop_reason = None, None, 0.0, [], "budget"

    # -- the loop: one optimiser step, then (every eval_every steps) one validation check ------
    step = 0
    try:
        for step in range(1, budget.total_steps + 1):
            ctx.control.checkpoint()
            model.train()
            batch = next(sampler).numpy()  # (B,) the global batch; this rank trains on its share
            xb = (batch_to_device(x_train, torch.as_tensor(batch), ctx.device) if x_train is not None else
                  torch.as_tensor(ds.x_train[batch], dtype=torch.float32, device=ctx.device))
            if augment is not None:  # the whole global batch, so every rank draws the same changes
                xb = augment(xb)
            share = par.shard(np.arange(len(batch)))
            mine = batch[share]
            xb = xb[torch.as_tensor(share, device=xb.device)] if len(share) < len(batch) else xb
            yb = batch_to_device(y_train, torch.as_tensor(mine), ctx.device)
            with torch.autocast(ctx.device.type, dtype=autocast, enabled=autocast is not None):
                out = trained(xb)
            loss = loss_fn(out.float(), yb)
            # DDP averages ranks' gradients: weigh each share so the average is the global batch's mean loss
            scale = par.world_size * len(mine) / len(batch)
            # the step's one host sync (a GPU waits here): the curve and the NaN check share it
            local = float(loss.detach())
            loss_sum, non_finite = par.sums([local * len(mine), float(not math.isfinite(local))])
            value = loss_sum / len(batch)
            if non_finite > 0:
                yield WarningRaised("refine", f"training loss became {value} at step {step}; skipped the "
                                              "update. If this repeats, lower refine.lr or lower refine.grad_clip.")
                continue
            optimizer.zero_grad(set_to_none=True)
            (loss * scale if scale != 1 else loss).backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            schedule.step()
            if averaged is not None:
                averaged.update_parameters(model)
            losses.append(value)
            yield StepLogged("refine", offset + step, budget.all_steps, losses[-1],
                             {"lr": schedule.get_last_lr()[0],
                              "epoch": round((offset + step) / budget.steps_per_epoch, 2)})

            last = step == budget.total_steps
            if step % budget.eval_every == 0 or last:
                val_loss, metrics, raw = validation_scores(kept, ds.x_val, ds.y_val, info, eval_loss_fn, autocast,
                                                           par if par.world_size > 1 else None)
                improved = selector.offer(step, val_loss, metrics)
                if candidates is not None:
                    candidates.offer(step, val_loss, metrics, kept)
                if improved:
                    best_raw = raw  # the kept model's validation outputs: the diagnosis reuses them
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in kept.state_dict().items()}
                    if (member == 0 and par.is_main and time.perf_counter() - last_saved > CHECKPOINT_EVERY_S
                            and not last):
                        ctx.folder.save_weights(best_state, info.as_checkpoint(step))
                        last_saved = time.perf_counter()
                yield ValidationLogged("refine", round((offset + step) / budget.steps_per_epoch, 2),
                                       {**metrics, "loss": val_loss}, best=improved, step=offset + step)
                if (budget.patience and not last and step >= budget.min_steps
                        and step - selector.step >= budget.patience):
                    stop_reason = "early stopping"
                    yield WarningRaised("refine", f"stopped early at step {step}: no better validation checkpoint "
                                                  f"in {budget.patience} steps (refine.patience)")
                    break
            if budget.max_seconds and par.any(time.perf_counter() - started > budget.max_seconds):
                stop_reason = "time limit"
                yield WarningRaised("refine", f"stopped at step {step}: refine.max_seconds = {budget.max_seconds:g} "
                                              "reached (a time-capped run depends on the machine's speed)")
                break
    finally:
        del trained
        for p in model.parameters():
            p.requires_grad_(True)

    # -- finish: keep the best checkpoint (or a soup of the best)
    soup_report = None
    if candidates is not None and len(candidates.items) > 1:
        validate = lambda m: validation_scores(m, ds.x_val, ds.y_val, info, eval_loss_fn, autocast,  # noqa: E731
                                               par if par.world_size > 1 else None)
        soup_state, soup_report = _soup(model, candidates, selector, validate)
        if soup_state is not None:
            best_state, best_raw = soup_state, soup_report["raw"]
    if best_state is not None:
        model.load_state_dict(best_state)
    return MemberResult(selector, losses, best_raw, step, stop_reason, soup_report)


def _soup(model, candidates: SoupCandidates, selector: CheckpointSelector, validate):
    """The greedy soup of `candidates`, scored by `validate(model) -> (loss, metrics, raw)`. Returns
    (the soup's weights, or None when no average beat the best single checkpoint; the report). A
    soup becomes the selector's kept scores."""
    def score(weights):
        model.load_state_dict(weights)
        loss, metrics, raw = validate(model)
        return candidates.rank(loss, metrics), loss, metrics, raw
    weights, report = greedy_soup(candidates, score)
    report["candidates"], report["best_single_validation"] = report["tried"], selector.value
    if len(report["steps"]) < 2:
        report["note"] = "no average of the best checkpoints scored better on validation: kept the best single one"
        return None, report
    report["note"] = f"weights averaged over the checkpoints of steps {report['steps']}"
    selector.loss, selector.metrics = report["validation_loss"], report["validation"]
    selector.value = selector.metrics.get(selector.selection, selector.value)
    return weights, report


def _check_batch_fits_ranks(batch_size: int, world_size: int) -> None:
    if batch_size < world_size:
        from ..errors import ConfigError
        raise ConfigError(f"refine batch of {batch_size} samples cannot be shared by {world_size} processes; "
                          f"raise refine.batch_size to at least {world_size} or launch fewer processes")


def _diagnose(ctx: RunContext, selector: CheckpointSelector, losses: list[float],
              best_raw: np.ndarray | None) -> Iterator[Event]:
    """Warnings about the kept model on the validation split: one class, chance level, flat loss.
    `best_raw` are the kept checkpoint's validation outputs, recorded when it was offered."""
    ds = ctx.dataset
    messages = [loss_not_falling_warning(losses)]
    if ds.task == "classification" and len(ds.y_val) and best_raw is not None:
        messages.append(one_class_warning(best_raw, ds.y_val, list(ds.class_names or []), "validation"))
    messages.append(chance_warning(ds.task, selector.metrics, ds.y_train, ds.y_val, "validation"))
    for message in messages:
        if message:
            yield WarningRaised("refine", message)


__all__ = ["refine", "selection_rule", "SMALL_VALIDATION", "task_loss", "training_targets",
           "warmup_then_linear_decay", "batches", "CheckpointSelector", "validation_scores", "group_schedules",
           "SoupCandidates", "greedy_soup", "averaged_weights", "soup_applies"]
