"""The stages of an ORCA run, each a generator of events over a shared RunContext.

    prepare -> align -> refine -> evaluate
    prepare -> tune (trials of align + refine, chosen on validation) -> evaluate

`prepare` runs implicitly before the first stage of a run. Stages check `ctx.control` between
steps, so pause, single-step and cancel act within one step.
"""
from __future__ import annotations

from typing import Callable, Iterator

from ..events import Event
from ..registry import Registry
from .align import align
from .context import RunContext, RunControl
from .evaluate import evaluate
from .prepare import prepare
from .refine import refine
from .tune import tune

Stage = Callable[[RunContext], Iterator[Event]]
STAGES: Registry[Stage] = Registry("stage")
for _name, _stage in (("prepare", prepare), ("align", align), ("refine", refine), ("tune", tune),
                      ("evaluate", evaluate)):
    STAGES.register(_name, _stage)

USER_STAGES = ("align", "refine", "tune", "evaluate")

__all__ = ["STAGES", "USER_STAGES", "RunContext", "RunControl", "prepare", "align", "refine", "tune", "evaluate"]
