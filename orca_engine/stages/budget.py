"""How much training a run gets: refinement budgeted in optimiser steps, sized to the data.

A fixed number of epochs fails at both ends. Forty training samples at batch 32 are two steps an
epoch, so eight epochs are sixteen updates: far too few for a pretrained body to adapt, and the
first noisy validation check can end the run. Fifty thousand samples make one epoch a long wait
on a CPU. The rules below hold from tens of samples to tens of thousands; every number is
overridable, and `RefineBudget.reasons` says, for the run folder, what was chosen and why.

    budget = refine_budget(config.refine, n_train=40, n_val=8)
    budget.batch_size, budget.total_steps, budget.eval_every, budget.patience
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..config import RefineConfig

AUTO_BATCH_RANGE = (8, 32)  # small batches give small data many updates; 32 keeps a CPU busy
AUTO_MEMBERS = 3  # models averaged on small data under refine.members = 0 (auto)
BATCH_SHARE = 10  # an automatic batch is about a tenth of the training split
CHECKS_PER_RUN = 20  # validation checks aimed at in one run
EVAL_SHARE = 0.25  # validation may cost at most about this share of training compute
EVAL_COST = 1 / 3  # a forward pass costs about a third of a training step per sample


@dataclass(frozen=True)
class RefineBudget:
    """The resolved refinement budget of one run."""
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    eval_every: int  # validate after every this many steps (and at the last step)
    patience: int  # stop after this many steps without a better checkpoint; 0 = never
    min_steps: int  # early stopping never ends a run before this step
    max_seconds: float  # 0 = no time limit
    members: int = 1  # models trained one after another, `total_steps` each (refine.members)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def epochs(self) -> float:
        return self.total_steps / max(1, self.steps_per_epoch)

    @property
    def all_steps(self) -> int:
        """Optimiser steps of the whole stage: every member's."""
        return self.total_steps * self.members

    def to_dict(self) -> dict:
        return {**asdict(self), "epochs": round(self.epochs, 2)}


def auto_batch_size(n_train: int) -> int:
    """A power of two near n_train / 10, within AUTO_BATCH_RANGE and never above n_train."""
    lo, hi = AUTO_BATCH_RANGE
    target = max(1.0, n_train / BATCH_SHARE)
    size = 2 ** int(math.floor(math.log2(target)))
    return max(1, min(n_train, max(lo, min(hi, size))))


def refine_budget(cfg: RefineConfig, n_train: int, n_val: int, task: str = "classification") -> RefineBudget:
    """Batch size, step budget, validation cadence, patience and ensemble members for `n_train`
    training and `n_val` validation samples of a `task` under the options in `cfg` (0 means: choose
    automatically)."""
    reasons: dict[str, str] = {}
    if cfg.batch_size:
        batch = min(cfg.batch_size, max(1, n_train))
        reasons["batch_size"] = f"refine.batch_size = {cfg.batch_size}"
    else:
        batch = auto_batch_size(n_train)
        reasons["batch_size"] = (f"automatic: about 1/{BATCH_SHARE} of {n_train} training samples, within "
                                 f"{AUTO_BATCH_RANGE[0]}..{AUTO_BATCH_RANGE[1]}")
    per_epoch = max(1, n_train // batch)  # full batches only (see refine.batches)

    if cfg.epochs:
        total = cfg.epochs * per_epoch
        reasons["total_steps"] = f"refine.epochs = {cfg.epochs} x {per_epoch} steps an epoch"
    else:
        aimed = cfg.target_epochs * per_epoch
        total = max(cfg.min_steps, min(cfg.max_steps, aimed))
        why = (f"raised to refine.min_steps = {cfg.min_steps}" if total > aimed else
               f"capped at refine.max_steps = {cfg.max_steps}" if total < aimed else "as aimed")
        reasons["total_steps"] = (f"automatic: refine.target_epochs = {cfg.target_epochs} x {per_epoch} steps an "
                                  f"epoch = {aimed}, {why}")
    total = max(1, total)

    if cfg.eval_every:
        eval_every = min(cfg.eval_every, total)
        reasons["eval_every"] = f"refine.eval_every = {cfg.eval_every}"
    else:
        spread = math.ceil(total / CHECKS_PER_RUN)
        affordable = math.ceil(n_val * EVAL_COST / (EVAL_SHARE * batch))
        eval_every = max(1, min(total, max(spread, affordable)))
        reasons["eval_every"] = (f"automatic: about {CHECKS_PER_RUN} checks a run"
                                 + (", fewer so validation stays under a quarter of the compute"
                                    if affordable > spread else ""))

    if not cfg.early_stopping:
        patience = 0
        reasons["patience"] = "refine.early_stopping is off"
    elif cfg.patience:
        patience = cfg.patience
        reasons["patience"] = f"refine.patience = {cfg.patience} steps"
    else:
        patience = max(total // 3, 2 * eval_every)
        reasons["patience"] = "automatic: a third of the budget"
    floor = min(cfg.min_steps, total)
    members, reasons["members"] = ensemble_members(cfg.members, task, total / per_epoch)
    return RefineBudget(batch_size=batch, steps_per_epoch=per_epoch, total_steps=total, eval_every=eval_every,
                        patience=patience, min_steps=floor, max_seconds=cfg.max_seconds, members=members,
                        reasons=reasons)


def ensemble_members(setting: int, task: str, epochs: float) -> tuple[int, str]:
    """refine.members resolved, with the reason. `auto` trains AUTO_MEMBERS models on small data,
    the regime where augmentation also turns on (AUTO_MIN_EPOCHS passes over the training split or
    more): there one run's test score moves by several points with its seed, and on development data
    the averaged prediction of three seeds scored above the members' mean on every set
    (docs/RECIPE.md). Larger data keeps one model: its runs vary less and cost more. Dense tasks
    (a prediction per position) keep one under `auto`."""
    from .augment import AUTO_MIN_EPOCHS
    if setting:
        return setting, f"refine.members = {setting}"
    if task == "dense":
        return 1, "automatic: one model for a dense task"
    if epochs >= AUTO_MIN_EPOCHS:
        return AUTO_MEMBERS, (f"automatic: {epochs:.0f} passes over the training split (at least "
                              f"{AUTO_MIN_EPOCHS}: small data), so {AUTO_MEMBERS} seeds are averaged")
    return 1, f"automatic: {epochs:.0f} passes over the training split (under {AUTO_MIN_EPOCHS}): one model"
