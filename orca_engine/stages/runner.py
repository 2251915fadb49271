"""`run_stages`: the one loop that runs stages over a RunContext (the Session and the compare grid share it)."""
from __future__ import annotations

import contextlib
import time
from typing import Callable, ContextManager, Iterable, Iterator, Mapping

from ..events import Event
from .context import RunContext

Stage = Callable[[RunContext], Iterator[Event]]
Emit = Callable[[Event], None]
Around = Callable[[str], ContextManager[None]]


def run_stages(ctx: RunContext, names: Iterable[str], emit: Emit, around: Around | None = None,
               replace: Mapping[str, Stage] | None = None) -> dict[str, float]:
    """Run the named stages in order over `ctx`, passing each event to `emit`; returns wall seconds per stage.

    around(name): a context manager entered around each stage (the session's live projection).
    replace: stage name -> a stand-in generator for this call (the grid's reused alignment).
    A finished stage is appended to `ctx.stages_done`; an exception (RunCancelled, an engine
    error) leaves the stage out of it and propagates after `around` has exited.
    """
    from . import STAGES
    seconds: dict[str, float] = {}
    for name in names:
        stage = (replace or {}).get(name) or STAGES.get(name)
        started = time.perf_counter()
        with around(name) if around is not None else contextlib.nullcontext():
            for event in stage(ctx):
                emit(event)
        ctx.stages_done.append(name)
        seconds[name] = time.perf_counter() - started
    return seconds
