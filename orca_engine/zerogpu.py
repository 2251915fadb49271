"""ZeroGPU on Hugging Face Spaces: ask for a GPU around the code that trains or embeds.

On a ZeroGPU Space (`SPACES_ZERO_GPU=true`) the server process holds no GPU. A function decorated
with the `spaces` package's `@spaces.GPU(duration=...)` is scheduled on a shared GPU for at most
`duration` seconds and runs in a forked worker process; its arguments and whatever it returns or
yields are pickled across. Off such a Space `spaces.GPU` returns the function unchanged, and
`gpu_task` does the same without importing the package: locally nothing changes.

The unit handed to the GPU is one stage of a run (`stage_events`): prepare (loads the backbone and
embeds the source proxy), align, refine, tune, evaluate. On ZeroGPU the stage gets a pickled copy
of the run's context, runs on the GPU, moves its tensors back to the CPU and yields the changed
context (`ContextUpdate`) after its events; `run_stage`, on the session's side, adopts it. What
does not cross the process boundary: pause and single-step act between stages, cancel between
events, and the live projection shows no frames (the worker has no view of the server's projector).

    for event in run_stage("refine", ctx): ...     # the session's loop, the same everywhere

`stage_seconds` sizes each request to the stage (ZeroGPU ends a call that overruns its duration):
estimates per step, labelled as such until a GPU row in docs/BENCHMARKS.md measures them.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

ZEROGPU_ENV = "SPACES_ZERO_GPU"
MAX_SECONDS_ENV = "ORCA_ZEROGPU_MAX_S"  # the longest GPU request a stage makes (the Space's quota caps it too)

# Seconds a stage needs on a ZeroGPU slice (an H200 MIG slice). ESTIMATES, not yet measured
# (bench/gpu_check.py measures the default run on a GPU): generous so a call is not cut off.
FIXED_S = {"prepare": 90.0, "align": 20.0, "refine": 20.0, "tune": 30.0, "evaluate": 60.0}
ALIGN_STEP_S = 0.5  # one otdd-exact step with 5,000 source points
REFINE_STEP_S = {"small": 0.1, "base": 0.3}  # one refine step at batch <= 32: MiniLM-size body, base-size body
BASE_PARAMS = 50_000_000  # bodies above this many parameters count as "base"


def on_zerogpu() -> bool:
    """Whether this process runs on a ZeroGPU Space (as the `spaces` package itself decides)."""
    return os.environ.get(ZEROGPU_ENV, "").strip().lower() in ("1", "t", "true")


def max_seconds() -> float:
    return float(os.environ.get(MAX_SECONDS_ENV, "300"))


def gpu_task(duration: float | Callable[..., float]) -> Callable[[Callable], Callable]:
    """`@spaces.GPU(duration=duration)` on a ZeroGPU Space, else the function itself.

    Off a ZeroGPU Space `spaces.GPU` returns the function unchanged, so there the package is not
    even imported (it pulls in httpx and pydantic: over a second at start-up on 2 cores). The
    result carries `gpu_duration` (what was asked for), so a test can check which functions
    request a GPU.
    """
    def decorate(fn: Callable) -> Callable:
        wrapped = fn
        if on_zerogpu():
            import spaces  # in requirements.txt; a ZeroGPU Space without it fails here, saying so
            wrapped = spaces.GPU(duration=duration)(fn)
        try:
            wrapped.gpu_duration = duration
        except AttributeError:  # a wrapper that takes no attributes: mark the function instead
            fn.gpu_duration = duration
        return wrapped
    return decorate


def stage_seconds(name: str, ctx: Any) -> float:
    """A GPU request's duration for stage `name` of the run in `ctx`, within [30, max_seconds()]."""
    cfg = ctx.config
    seconds = FIXED_S.get(name, 60.0)
    if name == "align":
        seconds += ALIGN_STEP_S * cfg.align.steps
    elif name in ("refine", "tune"):
        seconds += _refine_step_seconds(ctx) * _refine_steps(ctx) * (cfg.tune.trials if name == "tune" else 1)
    return float(min(max_seconds(), max(30.0, math.ceil(seconds))))


def _refine_steps(ctx: Any) -> int:
    cfg = ctx.config.refine
    if ctx.dataset is None:
        return cfg.max_steps if not cfg.epochs else cfg.epochs * 100
    from .stages.budget import refine_budget
    return refine_budget(cfg, len(ctx.dataset.x_train), len(ctx.dataset.x_val), ctx.dataset.task).all_steps


def _refine_step_seconds(ctx: Any) -> float:
    from .backbones import BACKBONES
    spec = BACKBONES.get(ctx.config.model.backbone)
    params = getattr(spec, "params", 0) or 0
    return REFINE_STEP_S["base" if params > BASE_PARAMS else "small"]


@dataclass
class ContextUpdate:
    """The run context as a ZeroGPU worker left it, tensors on the CPU (not an engine event)."""
    ctx: Any


@gpu_task(duration=stage_seconds)
def stage_events(name: str, ctx: Any) -> Iterator[Any]:
    """Stage `name`'s events on `ctx`. On ZeroGPU this runs in the GPU worker on a copy of the
    context and ends with a ContextUpdate; elsewhere it is the stage itself, on `ctx` in place."""
    from .stages import STAGES
    remote = on_zerogpu()
    if remote and ctx.device is not None:
        place_context(ctx, ctx.device)
    yield from STAGES.get(name)(ctx)
    if remote:
        place_context(ctx, "cpu")
        yield ContextUpdate(ctx)


def run_stage(name: str, ctx: Any) -> Iterator[Any]:
    """The events of stage `name`, with the context updated in place wherever the stage ran."""
    for item in stage_events(name, ctx):
        if isinstance(item, ContextUpdate):
            ctx.adopt(item.ctx)
            continue
        yield item


def place_context(ctx: Any, device: Any) -> None:
    """Move the run's model and source features to `device` (hardware.to_device does the copies)."""
    from .hardware import to_device
    if ctx.model is not None:
        ctx.model.to(device)
    if ctx.source is not None:
        import dataclasses
        feats, labels = to_device((ctx.source.features, ctx.source.labels), device)
        ctx.source = dataclasses.replace(ctx.source, features=feats, labels=labels)


__all__ = ["gpu_task", "stage_events", "run_stage", "stage_seconds", "on_zerogpu", "place_context", "ContextUpdate"]
