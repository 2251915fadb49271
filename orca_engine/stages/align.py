"""Stage 1, align: train only the embedder so embedded target data is distributed like the source.

Each step draws `samples_per_class` target samples per class (or pseudo-class), embeds them,
mean-pools over tokens to (n_t, D) features and takes one optimiser step on the alignment
objective against the cached source proxy features (n_s, D). The objective value before and after
is measured on one fixed, class-stratified sample, with the chosen objective and with `otdd-exact`
(so variants trained with different objectives stay comparable).
"""
from __future__ import annotations

import copy
import math
import time
from typing import Iterator

import numpy as np
import torch

from ..events import ClassDistances, Event, StageFinished, StageStarted, StepLogged, WarningRaised
from .context import RunContext, single_cpu_thread

REFERENCE_OBJECTIVE = "otdd-exact"
DISTANCES_EVERY_FRAMES = 10  # a heatmap costs about one objective evaluation: every 10th frame


def pooled_features(model, x: torch.Tensor) -> torch.Tensor:
    """Embedder output mean-pooled over tokens: (B, ...) -> (B, T, D) -> (B, D)."""
    return model.embed(x).float().mean(dim=1)


def stratified_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `per_class` indices of each class, drawn without replacement."""
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        picks.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.concatenate(picks)


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr)
    return torch.optim.Adam(params, lr=lr)


class _Probe:
    """The fixed samples used for before/after values and for the live projection."""

    def __init__(self, ctx: RunContext, rng: np.random.Generator):
        cfg = ctx.config.align
        labels = ctx.target_labels
        device = ctx.device
        eval_idx = stratified_indices(labels, cfg.samples_per_class, rng)
        self.eval_x = torch.as_tensor(ctx.dataset.x_train[eval_idx], dtype=torch.float32, device=device)
        self.eval_y = torch.as_tensor(labels[eval_idx], dtype=torch.long, device=device)
        n_t = min(cfg.projection_points, len(labels))
        proj_idx = np.sort(rng.choice(len(labels), size=n_t, replace=False))
        self.proj_x = torch.as_tensor(ctx.dataset.x_train[proj_idx], dtype=torch.float32, device=device)
        self.proj_y = labels[proj_idx]
        src_x, src_y = ctx.source.features, ctx.source.labels
        n_s = min(cfg.projection_points, len(src_y))
        src_idx = np.sort(rng.choice(len(src_y), size=n_s, replace=False))
        self.src_x = src_x[src_idx].cpu().numpy()
        self.src_y = src_y[src_idx].cpu().numpy()
        self._shadow = None  # a copy of the embedder that only the projection worker runs

    @torch.no_grad()
    def values(self, model, objectives: dict) -> dict[str, float]:
        feats = pooled_features(model, self.eval_x)
        return {name: float(obj(feats, self.eval_y)) for name, obj in objectives.items()}

    @torch.no_grad()
    def deferred_projection_features(self, model):
        """A function returning `pooled_features` (n_t, d) of the projection sample for the embedder
        as it is now, to be called in another thread: the training thread only clones the
        embedder's weights (an embedder is small: well under a millisecond), the projection
        worker runs the forward pass on a copy, in eval mode (no dropout), with weights no later
        step touches.
        """
        if self._shadow is None:
            self._shadow = copy.deepcopy(model.embedder).eval().requires_grad_(False)
        shadow, x = self._shadow, self.proj_x
        weights = {k: v.detach().clone() for k, v in model.embedder.state_dict().items()}

        def features() -> np.ndarray:
            with torch.no_grad():  # grad mode is per thread: say it again in the worker's
                tokens = torch.func.functional_call(shadow, weights, (x,))
                return tokens.float().mean(dim=1).cpu().numpy()
        return features


def align(ctx: RunContext) -> Iterator[Event]:
    with single_cpu_thread(ctx.device):
        yield from _align(ctx)


def _align(ctx: RunContext) -> Iterator[Event]:
    from ..alignment import make_objective

    cfg = ctx.config.align
    model = ctx.model
    steps = cfg.steps if cfg.objective != "none" else 0
    src_x, src_y = ctx.source.features, ctx.source.labels
    rng = np.random.default_rng(ctx.config.seed + 1)
    torch.manual_seed(ctx.config.seed + 1)
    yield StageStarted("align", total_steps=steps)

    objective = make_objective(cfg.objective, src_x, src_y)
    objectives = {cfg.objective: objective}
    if cfg.objective != REFERENCE_OBJECTIVE:
        objectives[REFERENCE_OBJECTIVE] = make_objective(REFERENCE_OBJECTIVE, src_x, src_y)
    probe = _Probe(ctx, rng)
    before = probe.values(model, objectives)
    yield from _live_views(ctx, probe, objectives[REFERENCE_OBJECTIVE], step=0, frame=0)

    x_train = ctx.dataset.x_train
    labels = ctx.target_labels
    embedder_params = [p for p in model.embedder.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg.optimizer, embedder_params, cfg.lr)
    plateau = PlateauRule(cfg.min_steps, cfg.plateau_steps, cfg.plateau_tolerance)
    started, last_good, stop_reason, step = time.perf_counter(), None, "align.steps reached", 0
    model.train()
    for step in range(1, steps + 1):
        ctx.control.checkpoint()
        idx = stratified_indices(labels, cfg.samples_per_class, rng)
        xb = torch.as_tensor(x_train[idx], dtype=torch.float32, device=ctx.device)
        yb = torch.as_tensor(labels[idx], dtype=torch.long, device=ctx.device)
        loss = objective(pooled_features(model, xb), yb)
        value = float(loss.detach())
        if not math.isfinite(value):
            if last_good is not None:
                model.embedder.load_state_dict(last_good)
            stop_reason = "non-finite objective"
            yield WarningRaised("align", f"the alignment objective became {value} at step {step}; kept the last "
                                         "finite embedder. Lower align.lr or try the 'mmd' objective.")
            break
        last_good = copy.deepcopy(model.embedder.state_dict())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        yield StepLogged("align", step, steps, value)
        done = step == steps
        if plateau.reached(value):
            stop_reason, done = plateau.reason, True
        elif cfg.max_seconds and time.perf_counter() - started > cfg.max_seconds:
            stop_reason, done = f"align.max_seconds = {cfg.max_seconds:g} reached", True
        if cfg.projection_every and (step % cfg.projection_every == 0 or done):
            frame = -(-step // cfg.projection_every)
            yield from _live_views(ctx, probe, objectives[REFERENCE_OBJECTIVE], step, frame, last=done)
        if done:
            break

    after = probe.values(model, objectives)
    seconds = round(time.perf_counter() - started, 2)
    ctx.metrics["align"] = {"objective": cfg.objective, "steps": step, "max_steps": steps, "stopped_by": stop_reason,
                            "objective_before": before[cfg.objective], "objective_after": after[cfg.objective],
                            "otdd_before": before[REFERENCE_OBJECTIVE], "otdd_after": after[REFERENCE_OBJECTIVE]}
    ctx.metrics.setdefault("seconds", {})["align"] = seconds  # apart from results: seconds never repeat
    yield StageFinished("align", metrics={**ctx.metrics["align"], "seconds": seconds})


class PlateauRule:
    """Stop alignment once the objective stops falling.

    After `min_steps`, compare the mean objective over the last `window` steps with the mean over
    the `window` before: a relative fall under `tolerance` is a plateau (a rise is one too: a
    larger rate would not help). Means over a window smooth the noise of per-step class samples.
    `window = 0` disables the rule.
    """

    def __init__(self, min_steps: int, window: int, tolerance: float):
        self.min_steps, self.window, self.tolerance = min_steps, window, tolerance
        self.values: list[float] = []
        self.reason = ""

    def reached(self, value: float) -> bool:
        self.values.append(value)
        n, w = len(self.values), self.window
        if not w or n < max(self.min_steps, 2 * w):
            return False
        before, recent = float(np.mean(self.values[-2 * w:-w])), float(np.mean(self.values[-w:]))
        fall = (before - recent) / max(abs(before), 1e-12)
        if fall >= self.tolerance:
            return False
        self.reason = (f"plateau: the objective's mean over the last {w} steps fell {100 * fall:.1f}% "
                       f"(align.plateau_tolerance = {100 * self.tolerance:g}%)")
        return True


def _live_views(ctx: RunContext, probe: _Probe, reference, step: int, frame: int,
                last: bool = False) -> Iterator[Event]:
    """Hand a projection sample to the live view (when it can draw it, and always at the last step);
    every few frames, emit class-to-class distances."""
    wanted = ctx.on_features is not None and (last or ctx.features_wanted is None or ctx.features_wanted())
    if wanted:
        target = probe.deferred_projection_features(ctx.model)  # the forward pass runs in the worker
        ctx.on_features("align", step, probe.src_x, target, probe.src_y, probe.proj_y)
    if frame % DISTANCES_EVERY_FRAMES == 0 and hasattr(reference, "class_distances"):
        with torch.no_grad():
            feats = pooled_features(ctx.model, probe.eval_x)
            matrix = reference.class_distances(feats, probe.eval_y)
        src_names = ctx.source.class_names
        n_src = np.asarray(matrix).shape[1]
        yield ClassDistances("align", step, np.asarray(matrix, dtype=float).round(5).tolist(),
                             target_classes=_target_class_names(ctx, probe),
                             source_classes=src_names if len(src_names) == n_src else list(range(n_src)))


def _target_class_names(ctx: RunContext, probe: _Probe) -> list:
    ids = np.unique(probe.eval_y.cpu().numpy())
    names = ctx.dataset.class_names if ctx.dataset.task == "classification" else None
    return [str(names[i]) if names is not None and i < len(names) else f"cluster {i}" for i in ids]
