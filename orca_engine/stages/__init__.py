"""The stages of an ORCA run, each a generator of events over a shared RunContext.

    prepare -> align -> refine -> evaluate
    prepare -> tune (trials of align + refine, chosen on validation) -> evaluate

`prepare` runs implicitly before the first stage of a run. `run_stages(ctx, names, emit)` is the one
loop over them (the Session's worker, the compare grid and tune's trials use it). Stages check
`ctx.control` between steps, so pause, single-step and cancel act within one step.
"""
from __future__ import annotations

from ..registry import Registry
from .align import align
from .context import RunContext, RunControl
from .evaluate import evaluate
from .prepare import prepare
from .refine import refine
from .runner import Stage, run_stages
from .tune import tune

STAGES: Registry[Stage] = Registry("stage")
for _name, _stage in (("prepare", prepare), ("align", align), ("refine", refine), ("tune", tune),
                      ("evaluate", evaluate)):
    STAGES.register(_name, _stage)

USER_STAGES = ("align", "refine", "tune", "evaluate")

__all__ = ["STAGES", "USER_STAGES", "RunContext", "RunControl", "Stage", "run_stages", "prepare", "align", "refine",
           "tune", "evaluate"]
