"""Several processes, one run: data-parallel refinement on Hugging Face Accelerate (DDP).

    accelerate launch --multi_gpu --num_processes 4 -m orca_engine run --data big.npz ...
    python -m orca_engine run --launcher accelerate --num-processes 2 --device cpu ...   # the same, launched for you

Accelerate (torchrun underneath) starts the processes and sets up the process group (NCCL on
GPUs, gloo on CPUs); this module only says what each rank does in an ORCA run:

- every rank loads the data and builds the same model (same seed); rank 0 first, so the source
  feature cache is written once and read by the others;
- alignment runs once, on rank 0; its embedder is then broadcast, so every rank starts refinement
  from the same aligned weights;
- refinement is data-parallel: every rank draws the same global batch of `B` indices (same
  seeded permutation) and takes its share `batch[rank::world]`; DDP averages the gradients. Each
  rank's mean loss is scaled by `world * n_rank / B`, so the averaged gradient is the gradient of
  the global batch's mean loss whatever the shares' sizes (exact for unweighted losses);
- validation is sharded the same way and the raw outputs gathered, so every rank computes the
  same metrics, keeps the same checkpoint and stops early at the same step; a time limit or a
  non-finite loss is decided by all ranks together (`any`);
- only rank 0 writes the run folder and the events, and runs the evaluate stage.

`Parallel` is the one-process identity: the refine stage calls its methods unconditionally.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from .errors import ConfigError

LAUNCHERS = ("none", "accelerate")


class Parallel:
    """The process group as a stage sees it; this base class is one process (every call is the identity)."""
    rank, world_size = 0, 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to train (a DDP wrapper over `model` when there are several processes)."""
        return model

    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This rank's share of a global batch of indices."""
        return indices

    def sums(self, values: Iterable[float]) -> list[float]:
        """Element-wise sums over all ranks."""
        return [float(v) for v in values]

    def any(self, flag: bool) -> bool:
        """True if `flag` is true on any rank (so all ranks take the same branch)."""
        return bool(flag)

    def gather_rows(self, fn: Callable[[np.ndarray], np.ndarray], x) -> np.ndarray:
        """`fn(x)`, computed in shares `x[rank::world]` and reassembled in the original row order."""
        return fn(x)

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Overwrite `module`'s weights on every rank with rank 0's."""

    def max_weight_difference(self, module: torch.nn.Module) -> float:
        """Largest difference between ranks of a weight checksum (0.0: the ranks hold the same model)."""
        return 0.0

    def barrier(self) -> None:
        """Wait for every rank."""


SINGLE = Parallel()


class AccelerateParallel(Parallel):
    """Several processes started by `accelerate launch` (or torchrun); see the module docstring."""

    def __init__(self, accelerator):
        self.accelerator = accelerator
        self.rank, self.world_size = accelerator.process_index, accelerator.num_processes

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return self.accelerator.prepare_model(model)

    def shard(self, indices: np.ndarray) -> np.ndarray:
        return indices[self.rank::self.world_size]

    def sums(self, values: Iterable[float]) -> list[float]:
        import torch.distributed as dist
        t = torch.tensor(list(values), dtype=torch.float64, device=self.accelerator.device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        return self.sums([1.0 if flag else 0.0])[0] > 0

    def gather_rows(self, fn: Callable[[np.ndarray], np.ndarray], x) -> np.ndarray:
        import torch.distributed as dist
        n = len(x)
        mine = np.arange(self.rank, n, self.world_size)
        local = fn(x[mine]) if len(mine) else None
        parts: list = [None] * self.world_size
        dist.all_gather_object(parts, local)
        shown = [p for p in parts if p is not None]
        if not shown:
            return fn(x)  # no rows at all: let fn say what an empty result looks like
        out = np.empty((n, *shown[0].shape[1:]), dtype=shown[0].dtype)
        for rank, part in enumerate(parts):
            if part is not None:
                out[rank::self.world_size] = part
        return out

    @torch.no_grad()
    def broadcast_module(self, module: torch.nn.Module) -> None:
        import torch.distributed as dist
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)

    @torch.no_grad()
    def max_weight_difference(self, module: torch.nn.Module) -> float:
        import torch.distributed as dist
        checksum = sum(float(p.double().abs().sum()) for p in module.parameters())
        parts: list = [None] * self.world_size
        dist.all_gather_object(parts, checksum)
        return float(max(parts) - min(parts))

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()


# -- launching ------------------------------------------------------------------------------------

def launched_world_size() -> int:
    """Processes in this launch, as torchrun / accelerate launch set it (1 when run plainly)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def launcher_command(argv: list[str], num_processes: int) -> list[str]:
    """`accelerate launch` re-running this same command in `num_processes` processes.

    `--multi_gpu` is Accelerate's name for its torchrun launcher; on a machine without GPUs the
    engine still runs each process on the CPU with the gloo backend."""
    if num_processes < 2:
        raise ConfigError(f"--num-processes {num_processes}: the accelerate launcher needs at least 2 processes; "
                          f"drop --launcher to run in one process")
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise ConfigError("--launcher accelerate needs Hugging Face Accelerate: pip install -r "
                          "requirements-scale.txt (or pip install accelerate)") from None
    return [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch", "--multi_gpu",
            "--num_processes", str(num_processes), "--num_machines", "1", "--mixed_precision", "no",
            "--dynamo_backend", "no", "-m", "orca_engine", *strip_launcher_flags(argv)]


def strip_launcher_flags(argv: list[str]) -> list[str]:
    """`argv` without --launcher/--num-processes (and their values), so the launched command runs plainly."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--launcher", "--num-processes"):
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


# -- one run over the process group -----------------------------------------------------------------

def run_distributed(config, stages: tuple[str, ...], runs_dir: str | Path, show: Callable[[dict], None],
                    cache_dir: str | Path | None = None) -> tuple[Path | None, dict]:
    """Run `stages` of `config` in this process as one rank of a launched group (module docstring).

    Returns (the run folder, metrics) on rank 0 and (None, {}) on the others. `show` receives rank
    0's event records (the CLI's progress display)."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs
    if "tune" in stages:
        raise ConfigError("tune runs whole trials, not one data-parallel refinement; run --tune without a "
                          "launcher, and fan the trials out with --tune-executor ray")
    cpu = config.device == "cpu" or not torch.cuda.is_available()
    # find_unused_parameters: a body's pooler (and a frozen scope's layers) take no part in the loss
    accelerator = Accelerator(cpu=cpu, kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    parallel = AccelerateParallel(accelerator)
    try:
        device = "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)  # cuda:LOCAL_RANK
        return _run_ranks(config, stages, Path(runs_dir), show, parallel, device,
                          accelerator.state.backend, cache_dir)
    finally:
        accelerator.end_training()


def _run_ranks(config, stages, runs_dir: Path, show, parallel: AccelerateParallel, device: str, backend,
               cache_dir) -> tuple[Path | None, dict]:
    from .events import RunFailed, RunFinished, RunStarted
    from .run_folder import RunFolder
    from .stages import RunContext, align, evaluate, prepare, refine
    from .errors import OrcaError
    main = parallel.is_main
    name = config.name or f"{Path(config.data.source).stem}-{config.model.backbone}"
    scratch = None
    if main:
        folder = RunFolder.create(runs_dir, name)
        folder.write_config(config)
        run_dir = folder.path
    else:  # the other ranks write nothing; a scratch folder catches anything a stage might write
        scratch = tempfile.TemporaryDirectory(prefix=f"orca-rank{parallel.rank}-")
        run_dir = Path(scratch.name)
    log = _RankLog(folder.event_log() if main else None, show if main else None)
    ctx = RunContext(config=config.with_overrides({"device": device}), run_dir=run_dir,
                     cache_dir=Path(cache_dir) if cache_dir else None)
    ctx.parallel = parallel
    log.record(RunStarted(run_dir.name, str(run_dir), config.to_dict()))
    started = time.perf_counter()
    try:
        with parallel.accelerator.main_process_first():  # rank 0 fills the source-feature cache first
            log.run(prepare(ctx))
        if "align" in stages:
            if main:
                log.run(align(ctx))
            parallel.broadcast_module(ctx.model.embedder)
        if "refine" in stages:
            torch.manual_seed(config.seed + 2)
            log.run(refine(ctx))
            ctx.metrics["distributed"] = {"launcher": "accelerate", "processes": parallel.world_size,
                                          "backend": str(backend), "device": device,
                                          "max_weight_difference": parallel.max_weight_difference(ctx.model)}
        if "evaluate" in stages and main:
            log.run(evaluate(ctx))
        ctx.metrics.setdefault("seconds", {})["total"] = round(time.perf_counter() - started, 2)
        if main:
            folder.write_metrics(ctx.metrics)
            log.record(RunFinished(metrics=ctx.metrics.get("test", {})))
        return (run_dir, dict(ctx.metrics)) if main else (None, {})
    except OrcaError as e:
        log.record(RunFailed(type(e).__name__, str(e)))
        raise
    finally:
        ctx.release()
        if scratch is not None:
            scratch.cleanup()


class _RankLog:
    """Rank 0's events.jsonl (with the session's index/time fields) and progress display; silent elsewhere."""

    def __init__(self, log, show):
        self._log, self._show, self._count = log, show, 0

    def record(self, event) -> None:
        if self._log is None:
            return
        record = {"index": self._count, "time": round(time.time(), 3), **event.to_dict()}
        self._log.append(record)
        self._count += 1
        if self._show:
            self._show(record)

    def run(self, stage_events) -> None:
        for event in stage_events:
            self.record(event)
