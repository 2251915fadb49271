"""Fair use on the public app: what one visitor may ask of the one shared compute slot.

The engine's config allows research-sized runs (100,000 alignment steps, 10,000 epochs) and the
CLI keeps them; a public page must not let one visitor hold the machine for hours. Every start
is checked here before it reaches the Session, and a capped request says which limit and why.
The Session also stops any run after `max_run_s` of wall-clock time.

Each limit has an environment variable with a safe public default:

    ORCA_PUBLIC_MAX_ALIGN_STEPS    2000   alignment steps
    ORCA_PUBLIC_MAX_EPOCHS         50     refinement epochs
    ORCA_PUBLIC_MAX_REFINE_STEPS   20000  refinement optimiser steps (the run's planned budget)
    ORCA_PUBLIC_MAX_TUNE_TRIALS    20     hyperparameter trials of one tuned run
    ORCA_PUBLIC_MAX_CLASSES        100    classes in the data
    ORCA_PUBLIC_MAX_RUN_S          1800   seconds one run may compute
    ORCA_PUBLIC_MAX_LIVE_RUNS      2      runs per visitor queued or running at once (1 active + 1 queued)
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from orca_engine.config import RunConfig
from orca_engine.errors import OrcaError

from . import messages


class LimitExceeded(OrcaError):
    """A request beyond the public app's fair-use limits."""


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class PublicLimits:
    max_align_steps: int = int(_env("ORCA_PUBLIC_MAX_ALIGN_STEPS", 2000))
    max_epochs: int = int(_env("ORCA_PUBLIC_MAX_EPOCHS", 50))
    max_refine_steps: int = int(_env("ORCA_PUBLIC_MAX_REFINE_STEPS", 20_000))
    max_classes: int = int(_env("ORCA_PUBLIC_MAX_CLASSES", 100))
    max_run_s: float = _env("ORCA_PUBLIC_MAX_RUN_S", 1800)
    max_live_runs: int = int(_env("ORCA_PUBLIC_MAX_LIVE_RUNS", 2))
    max_tune_trials: int = int(_env("ORCA_PUBLIC_MAX_TUNE_TRIALS", 20))

    def check_config(self, config: RunConfig, n_train: int | None = None, n_classes: int | None = None) -> None:
        """Raise LimitExceeded naming the first limit `config` (on data of that size) goes beyond."""
        from orca_engine.session import planned_refine_steps
        steps = planned_refine_steps(config, math.ceil(n_train * config.data.train_fraction)) if n_train else 0
        checks = [("align.steps", config.align.steps, self.max_align_steps),
                  ("refine.epochs", config.refine.epochs, self.max_epochs),
                  ("refine steps", steps, self.max_refine_steps),
                  ("tune.trials", config.tune.trials, self.max_tune_trials),
                  ("classes", n_classes or 0, self.max_classes)]
        for what, value, limit in checks:
            if value > limit:
                raise LimitExceeded(messages.OVER_LIMIT.format(what=what, value=value, limit=limit))
        if config.tune.executor != "serial":  # a visitor never fans work out over the server's Ray
            raise LimitExceeded(messages.NOT_ON_PUBLIC_APP.format(what=f"tune.executor = {config.tune.executor}"))

    def check_live_runs(self, live: int) -> None:
        if live >= self.max_live_runs:
            raise LimitExceeded(messages.TOO_MANY_RUNS.format(limit=self.max_live_runs))


PUBLIC = PublicLimits()
