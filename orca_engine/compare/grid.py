"""Run a comparison grid: every (variant, seed, data fraction) cell, one after another, sharing work.

    result = run_grid(base_config, GridSpec(seeds=(0, 1, 2)), out_dir="compare/digits",
                      progress=print)
    result.run_dirs        # one ordinary run folder per cell (config.json, events.jsonl, metrics.json)

The stages run directly over a RunContext (not through a Session) so the grid can share: the
backbone is loaded once and its weights restored per run (`ModelPool`), source features come from
the on-disk cache after the first run, and each distinct alignment is computed once and reused by
every variant that starts from it (`AlignmentCache`). Model selection happens in the refine stage
on the validation split only; each cell's test metrics are computed once, by the evaluate stage.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator

import torch

from ..config import RunConfig
from ..errors import OrcaError
from ..events import (Event, RunFailed, RunFinished, RunStarted, StageFinished, StageStarted)
from ..run_folder import EventLog, RunFolder
from .sharing import Alignment, AlignmentCache, ModelPool, body_key
from .variants import Cell, GridSpec

if TYPE_CHECKING:
    from ..stages import RunContext

Progress = Callable[[str], None]


@dataclass
class CellResult:
    cell: Cell
    run_dir: Path
    ok: bool
    seconds: float  # this cell's own wall time in the grid (shared work counted where it was done)
    test: dict = field(default_factory=dict)
    error: str = ""


@dataclass
class GridResult:
    out_dir: Path
    cells: list[CellResult]
    seconds: float
    model_loads: int
    alignments_reused: int

    @property
    def run_dirs(self) -> list[Path]:
        return [c.run_dir for c in self.cells]


def cell_config(base: RunConfig, cell: Cell) -> RunConfig:
    """The effective config of one cell: base + the variant's recipe + its seed and data fraction."""
    overrides = {**cell.variant.overrides, "seed": cell.seed, "data.train_fraction": cell.fraction,
                 "name": f"{Path(base.data.source).stem}-{cell.label}"}
    return base.with_overrides(overrides)


def ordered_cells(spec: GridSpec, base: RunConfig) -> list[Cell]:
    """Seed-major (a stopped grid leaves whole seeds), full data first, one body at a time, and runs
    sharing an alignment next to each other (so the cache can be cleared between groups)."""
    def key(cell: Cell):
        cfg = cell_config(base, cell)
        return (cell.seed, -cell.fraction, body_key(cfg)[0] != "pretrained", cell.variant.kind != "neural",
                cfg.align.objective, cfg.model.embedder_init, cfg.refine.scope != "full", cfg.refine.scope)
    return sorted(spec.cells(), key=key)


def run_grid(base: RunConfig, spec: GridSpec, out_dir: str | Path, progress: Progress | None = None,
             keep_models: bool = False, cache_dir: str | Path | None = None, executor: str = "serial",
             gpus_per_run: float = 0.0) -> GridResult:
    """Run every cell of `spec` on `base` (see the module docstring); returns where each run went.

    `executor`: "serial" (this process, one cell after another) or "ray[:ADDRESS]" (each group of
    cells sharing a seed and data fraction is one Ray task with one CPU, and `gpus_per_run` GPUs;
    see `executors.py`)."""
    from .executors import make_executor
    say = progress or (lambda _line: None)
    out_dir = Path(out_dir)
    cells = ordered_cells(spec, base)
    started, results = time.perf_counter(), []
    loads = hits = 0
    for batch in make_executor(executor, gpus_per_run).run(base, cells, out_dir / "runs", keep_models, cache_dir):
        results.extend(batch.results)
        loads, hits = loads + batch.model_loads, hits + batch.alignments_reused
        for result in batch.results:
            say(_progress_line(len(results), len(cells), result, time.perf_counter() - started))
    order = {cell.label: i for i, cell in enumerate(cells)}  # executors may finish groups out of order
    results.sort(key=lambda r: order[r.cell.label])
    return GridResult(out_dir, results, time.perf_counter() - started, loads, hits)


@dataclass
class CellBatch:
    """Cells run together (sharing one model pool and alignment cache) and what they shared."""
    results: list[CellResult]
    model_loads: int
    alignments_reused: int


class CellRunner:
    """Runs cells one after another in this process, sharing a model pool and the alignments of each
    (seed, fraction) group. Give it cells in `ordered_cells` order."""

    def __init__(self, base: RunConfig, runs_dir: Path, keep_models: bool = False,
                 cache_dir: str | Path | None = None):
        from ..data import load_dataset
        from ..hardware import resolve_device
        from ..model import ModelShapes
        self.base, self.runs_dir, self.keep_models, self.cache_dir = base, Path(runs_dir), keep_models, cache_dir
        probe = load_dataset(base.data, seed=0)  # shapes only; every run loads its own split
        self.pool = ModelPool(ModelShapes.of(probe), resolve_device(base.device))
        self.aligned = AlignmentCache()
        self._group = None

    def run(self, cell: Cell) -> CellBatch:
        """One cell; the batch counts the model loads and alignment reuses this cell caused."""
        loads, hits = self.pool.loads, self.aligned.hits
        if (cell.seed, cell.fraction) != self._group:
            self.aligned.clear()
            self._group = (cell.seed, cell.fraction)
        result = _run_cell(self.base, cell, self.runs_dir, self.pool, self.aligned, self.keep_models, self.cache_dir)
        return CellBatch([result], self.pool.loads - loads, self.aligned.hits - hits)


def _progress_line(i: int, n: int, result: CellResult, elapsed: float) -> str:
    eta = elapsed / i * (n - i)
    outcome = (", ".join(f"{k}={v:.4g}" for k, v in list(result.test.items())[:2]) if result.ok
               else f"FAILED: {result.error}")
    return (f"[{i}/{n}] {result.cell.label}: {outcome} ({result.seconds:.0f}s; grid {elapsed / 60:.1f} min, "
            f"eta {eta / 60:.1f} min)")


def _run_cell(base: RunConfig, cell: Cell, runs_dir: Path, pool: ModelPool, aligned: AlignmentCache,
              keep_models: bool, cache_dir: str | Path | None) -> CellResult:
    config = cell_config(base, cell)
    folder = RunFolder.create(runs_dir, config.name)
    folder.write_config(config)
    run_dir = folder.path
    log = folder.event_log()
    log.record(RunStarted(run_dir.name, str(run_dir), config.to_dict()))
    started = time.perf_counter()
    try:
        if cell.variant.kind == "classical":
            metrics = _classical(config, log)
        else:
            metrics = _neural(config, run_dir, pool, aligned, log, cache_dir)
        metrics["compare"] = {"variant": cell.variant.name, "seed": cell.seed, "train_fraction": cell.fraction,
                              **metrics.get("compare", {})}
        folder.write_metrics(metrics)
        log.record(RunFinished(metrics=metrics["test"]))
        return CellResult(cell, run_dir, True, time.perf_counter() - started, metrics["test"])
    except OrcaError as e:  # one bad cell must not stop the grid; its folder says why
        log.record(RunFailed(type(e).__name__, str(e)))
        return CellResult(cell, run_dir, False, time.perf_counter() - started, error=str(e))
    finally:
        log.close()
        if not keep_models:  # large per-run weights
            folder.drop_weights()


def _neural(config: RunConfig, run_dir: Path, pool: ModelPool, aligned: AlignmentCache, log: EventLog,
            cache_dir: str | Path | None) -> dict[str, Any]:
    from ..stages import RunContext, run_stages
    ctx = RunContext(config=config, run_dir=run_dir, cache_dir=Path(cache_dir) if cache_dir else None)
    ctx.model = pool.model_for(config)  # prepare keeps a model it is given
    reused = aligned.get(config)
    try:
        reuse = {"align": lambda c: _reused_alignment(c, reused)} if reused else None
        seconds = run_stages(ctx, ("prepare", "align"), log.record, replace=reuse)
        if reused is None:  # shared before refinement changes the embedder
            aligned.put(config, ctx.model, ctx.metrics["align"], run_dir.name, seconds["align"])
        else:
            seconds["align"] = reused.seconds  # the cost of this variant run on its own
        seconds |= run_stages(ctx, ("refine", "evaluate"), log.record, around=_seeding_refine(config.seed))
        timing = {f"{name}_s": s for name, s in seconds.items()}
        ctx.metrics["compare"] = {**timing, "wall_s": timing["align_s"] + timing["refine_s"] + timing["evaluate_s"],
                                  "align_reused_from": reused.run if reused else ""}
        return dict(ctx.metrics)
    finally:
        ctx.model = ctx.dataset = ctx.source = None  # the pool keeps the model; drop this run's references


def _seeding_refine(seed: int) -> Callable[[str], ContextManager[None]]:
    """Around each stage: seed torch before refine, so its randomness (dropout) does not depend on what
    ran before it in the grid."""
    @contextlib.contextmanager
    def around(stage: str) -> Iterator[None]:
        if stage == "refine":
            torch.manual_seed(seed + 2)
        yield
    return around


def _reused_alignment(ctx: RunContext, reused: Alignment) -> Iterator[Event]:
    """Restore a shared aligned embedder in place of running the align stage again."""
    yield StageStarted("align", total_steps=0)
    ctx.model.embedder.load_state_dict(reused.embedder_state)
    ctx.metrics["align"] = {**reused.metrics, "reused_from": reused.run}
    yield StageFinished("align", metrics=ctx.metrics["align"])


def _classical(config: RunConfig, log: EventLog) -> dict[str, Any]:
    from ..baselines import classical_baseline
    from ..data import load_dataset
    log.record(StageStarted("baseline", total_steps=1))
    started = time.perf_counter()
    dataset = load_dataset(config.data, seed=config.seed)
    result = classical_baseline(dataset, seed=config.seed)
    seconds = time.perf_counter() - started
    log.record(StageFinished("baseline", metrics=result.to_dict()))
    return {"test": result.test, "validation": result.validation, "baseline": result.to_dict(),
            "data": dataset.report, "compare": {"wall_s": seconds, "baseline_s": result.seconds}}
