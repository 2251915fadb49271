"""Stage 2, refine: fine-tune embedder, body and predictor on the task loss.

Linear warm-up then linear decay, gradient clipping, early stopping on the validation split, and
the best-validation weights restored at the end (the test split is never looked at here).
"""
from __future__ import annotations

import copy
import math
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..events import Event, StageFinished, StageStarted, StepLogged, ValidationLogged, WarningRaised
from ..metrics import TASK_METRICS, is_improvement
from ..predict import model_outputs, to_task_units
from .context import RunContext


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


def training_targets(y: np.ndarray, build_info: dict) -> torch.Tensor:
    """Labels as the loss wants them: int64 classes, or float targets standardised with train stats."""
    if build_info["task"] == "classification":
        return torch.as_tensor(y, dtype=torch.long)
    if build_info["task"] == "multilabel":
        return torch.as_tensor(y, dtype=torch.float32)
    mean = np.asarray(build_info["target_mean"], dtype=np.float32)
    std = np.asarray(build_info["target_std"], dtype=np.float32)
    return torch.as_tensor((np.asarray(y, dtype=np.float32) - mean) / std, dtype=torch.float32)


def warmup_then_linear_decay(total_steps: int, warmup_fraction: float):
    warmup = max(1, int(total_steps * warmup_fraction)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
    return factor


def select_trainable(model, scope: str) -> list[torch.nn.Parameter]:
    """Freeze everything outside `scope`; return the parameters left to train."""
    chosen = {id(p) for p in model.trainable_parameters(scope)}
    for p in model.parameters():
        p.requires_grad_(id(p) in chosen)
    return [p for p in model.parameters() if p.requires_grad]


def parameter_groups(model, params: list[torch.nn.Parameter], lr: float, new_layers_scale: float) -> list[dict]:
    """The pretrained body at `lr`; the new layers (embedder, head), which start far from any optimum,
    at `lr * new_layers_scale` (the usual fine-tuning practice; 1 reproduces ORCA's single rate)."""
    new = {id(p) for module in (model.embedder, model.head) for p in module.parameters()}
    groups = [{"params": [p for p in params if id(p) not in new], "lr": lr},
              {"params": [p for p in params if id(p) in new], "lr": lr * new_layers_scale}]
    return [g for g in groups if g["params"]]


def split_metrics(model, x: np.ndarray, y: np.ndarray, build_info: dict, autocast_dtype=None) -> dict[str, float]:
    raw = model_outputs(model, x, autocast_dtype=autocast_dtype)
    task = build_info["task"]
    scored = raw if task in ("classification", "multilabel") else to_task_units(raw, build_info)
    return TASK_METRICS.get(task).compute(y, scored)


def refine(ctx: RunContext) -> Iterator[Event]:
    cfg = ctx.config.refine
    ds, model, info = ctx.dataset, ctx.model, ctx.build_info
    task_metrics = TASK_METRICS.get(ds.task)
    steps_per_epoch = math.ceil(len(ds.x_train) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    yield StageStarted("refine", total_steps=total)
    if total == 0:
        ctx.metrics["validation"] = split_metrics(model, ds.x_val, ds.y_val, info)
        yield StageFinished("refine", metrics={"skipped": True, "validation": ctx.metrics["validation"]})
        return

    params = select_trainable(model, cfg.scope)
    groups = parameter_groups(model, params, cfg.lr, cfg.new_layers_lr_scale)
    optimizer = (torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
                 if cfg.optimizer == "sgd" else torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_linear_decay(total, cfg.warmup_fraction))
    weights = (inverse_frequency_weights(ds.y_train, ds.num_outputs).to(ctx.device)
               if cfg.class_weights and ds.task == "classification" else None)
    loss_fn = task_loss(ds.task, weights)
    y_train = training_targets(ds.y_train, info)
    autocast = torch.bfloat16 if (ctx.config.precision == "bf16" and ctx.device.type == "cuda") else None
    generator = torch.Generator().manual_seed(ctx.config.seed + 2)

    best_value, best_state, best_metrics, stale, step = None, None, {}, 0, 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        for batch in torch.randperm(len(ds.x_train), generator=generator).split(cfg.batch_size):
            ctx.control.checkpoint()
            xb = torch.as_tensor(ds.x_train[batch.numpy()], dtype=torch.float32, device=ctx.device)
            yb = y_train[batch].to(ctx.device)
            with torch.autocast(ctx.device.type, dtype=autocast, enabled=autocast is not None):
                out = model(xb)
            loss = loss_fn(out.float(), yb)
            step += 1
            if not torch.isfinite(loss):
                yield WarningRaised("refine", f"training loss became {float(loss)} at step {step}; skipped the "
                                              "update. If this repeats, lower refine.lr or raise refine.grad_clip.")
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            schedule.step()
            yield StepLogged("refine", step, total, loss.item(), {"lr": schedule.get_last_lr()[0], "epoch": epoch})

        metrics = split_metrics(model, ds.x_val, ds.y_val, info, autocast)
        value = metrics.get(task_metrics.selection, float("nan"))
        improved = is_improvement(ds.task, value, best_value)
        if improved:
            best_value, best_metrics, stale = value, metrics, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            stale += 1
        yield ValidationLogged("refine", epoch, metrics, best=improved)
        if cfg.patience and stale >= cfg.patience:
            yield WarningRaised("refine", f"stopped early after epoch {epoch}: no validation improvement in "
                                          f"{cfg.patience} epochs (refine.patience)")
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    for p in model.parameters():
        p.requires_grad_(True)
    ctx.metrics["validation"] = best_metrics
    ctx.metrics["refine"] = {"epochs_run": epoch, "steps": step, "selection_metric": task_metrics.selection,
                             "best_validation": best_value}
    yield StageFinished("refine", metrics={"validation": best_metrics, **ctx.metrics["refine"]})
