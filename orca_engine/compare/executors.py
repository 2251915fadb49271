"""Where a comparison grid's cells run: here, one after another, or fanned out over Ray.

    run_grid(base, spec, out, executor="serial")          # this process (the default)
    run_grid(base, spec, out, executor="ray")             # a local Ray, one CPU per task
    run_grid(base, spec, out, executor="ray:HOST:6379")   # an existing Ray cluster ("ray:auto" finds it)

The unit of work sent to Ray is a *group*: the cells that share a seed and a data fraction. They
run in one task, in the serial order, with one model pool and one alignment cache, so a group's
alignments are shared exactly as in a serial grid (which clears its cache between groups anyway).
Each run seeds itself, so a cell's results do not depend on which task ran it or when: they equal
the serial grid's run for run (given the same torch thread count; a task uses `cpus_per_task`).
Source features are cached in a folder (`--cache`): on one machine every task shares it; on a
cluster, point it at a shared file system or let each node fill its own.

A task writes its run folders in a scratch folder on its node and returns their files; the driver
writes them under the grid's output folder, so a cluster needs no shared file system for results.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..config import RunConfig
from ..raytools import parse_executor
from .grid import CellBatch, CellResult, CellRunner
from .variants import Cell


def make_executor(text: str, gpus_per_task: float = 0.0):
    """'serial' -> SerialExecutor; 'ray' / 'ray:ADDRESS' -> RayExecutor (`gpus_per_task` GPUs per task)."""
    name, address = parse_executor(text, "--executor")
    return SerialExecutor() if name == "serial" else RayExecutor(address, gpus_per_task=gpus_per_task)


class SerialExecutor:
    """Every cell in this process, in order (the grid as it always ran)."""

    def run(self, base: RunConfig, cells: list[Cell], runs_dir: Path, keep_models: bool,
            cache_dir) -> Iterator[CellBatch]:
        runner = CellRunner(base, runs_dir, keep_models, cache_dir)
        for cell in cells:
            yield runner.run(cell)


def groups_of(cells: list[Cell]) -> list[list[Cell]]:
    """Consecutive cells sharing (seed, fraction): the units of work that share alignments."""
    groups: list[list[Cell]] = []
    for cell in cells:
        if groups and (groups[-1][0].seed, groups[-1][0].fraction) == (cell.seed, cell.fraction):
            groups[-1].append(cell)
        else:
            groups.append([cell])
    return groups


@dataclass
class RayExecutor:
    """Groups of cells as Ray tasks (module docstring). `address` None starts a local Ray on this
    machine's cores unless one is already initialised in this process."""
    address: str | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0

    def run(self, base: RunConfig, cells: list[Cell], runs_dir: Path, keep_models: bool,
            cache_dir) -> Iterator[CellBatch]:
        from ..raytools import start_ray
        ray = start_ray(self.address, "--executor ray")
        task = ray.remote(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task)(run_group)
        threads = max(1, int(self.cpus_per_task))
        pending = [task.remote(base, group, keep_models, str(cache_dir) if cache_dir else None, threads)
                   for group in groups_of(cells)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            results, loads, hits = ray.get(done[0])
            yield CellBatch([_written(r, files, Path(runs_dir)) for r, files in results], loads, hits)


def run_group(base: RunConfig, cells: list[Cell], keep_models: bool, cache_dir: str | None,
              threads: int) -> tuple[list[tuple[CellResult, dict[str, bytes]]], int, int]:
    """One group of cells in this (worker) process; returns each result with its run folder's files."""
    import torch
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="orca-grid-") as scratch:
        runner = CellRunner(base, Path(scratch), keep_models, cache_dir)
        out, loads, hits = [], 0, 0
        for cell in cells:
            batch = runner.run(cell)
            loads, hits = loads + batch.model_loads, hits + batch.alignments_reused
            for result in batch.results:
                files = {p.name: p.read_bytes() for p in sorted(result.run_dir.iterdir()) if p.is_file()}
                out.append((result, files))
        return out, loads, hits


def _written(result: CellResult, files: dict[str, bytes], runs_dir: Path) -> CellResult:
    """Write a task's run folder under the grid's runs folder; the result then points there."""
    from ..run_folder import write_atomic
    run_dir = runs_dir / result.run_dir.name
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomic(run_dir / name, data)
    result.run_dir = run_dir
    return result
