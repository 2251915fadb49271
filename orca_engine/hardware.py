"""Device and dtype decisions, made in one place: which device a run uses, whether this CPU or GPU
computes bf16 natively, which precision a run actually gets, and the autocast dtype stages enter.

    device = resolve_device(cfg.device)                        # torch.device, or ConfigError
    used, note = resolve_precision(cfg.precision, device)      # ("fp32", "bf16 requested but ...")
    autocast = autocast_dtype(ctx.config.precision, ctx.device)
    with torch.autocast(ctx.device.type, dtype=autocast, enabled=autocast is not None):
        out = model(xb)

Why bf16 needs native support: without hardware bf16 dot products (CUDA compute capability >= 8,
or a CPU with AMX-BF16 or AVX512-BF16), PyTorch emulates bf16 matmuls through fp32 conversions and
autocast makes a run slower, not faster, while still costing precision. So `bf16` is honoured only
where it is native and otherwise runs fp32 with a note saying so; `auto` picks bf16 where it is
native and was measured to keep quality (docs/BENCHMARKS.md, "Precision"), fp32 elsewhere.

Only the model's forward pass is autocast; the loss and alignment's optimal-transport maths stay
fp32 (the objectives cast bf16 features back with `.float()`).

`ORCA_FORCE_NO_BF16=1` makes this machine report no native bf16, to test the fallback anywhere.
torch is imported inside the functions: `config` imports this module's constants at start-up.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16", "auto")
FORCE_NO_BF16_ENV = "ORCA_FORCE_NO_BF16"
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 dot products

# Where `auto` picks bf16 (when it is native): per device type, from the quality check in
# docs/BENCHMARKS.md ("Precision"). A device type missing here gets fp32 under `auto`.
AUTO_BF16 = {"cuda": True, "cpu": True}


def resolve_device(name: str) -> "torch.device":
    """The torch.device for a config's `device` ('auto' = CUDA when present, else CPU)."""
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device = {name!r} but no CUDA device is visible; use device 'auto' or 'cpu'")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 dot products in hardware (AMX-BF16 or AVX512-BF16).

    Asks PyTorch's own CPU capability checks (what oneDNN will dispatch to), and falls back to the
    /proc/cpuinfo flags where this torch build lacks them. False under ORCA_FORCE_NO_BF16=1.
    """
    if os.environ.get(FORCE_NO_BF16_ENV, "").strip() not in ("", "0"):
        return False
    return _detected_cpu_bf16()


@functools.lru_cache(maxsize=1)
def _detected_cpu_bf16() -> bool:
    import torch
    checks = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    checks = [check for check in checks if check is not None]
    if checks:
        try:
            native = any(check() for check in checks)
            return native and torch.backends.mkldnn.is_available()
        except RuntimeError:
            pass
    return bool(_cpuinfo_flags() & set(CPU_BF16_FLAGS))


def _cpuinfo_flags(path: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = path.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def device_has_native_bf16(device: Any) -> bool:
    """Native bf16 on `device`: a CUDA GPU that reports bf16 support, or a CPU with AMX/AVX512-bf16."""
    import torch
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def resolve_precision(precision: str, device: Any) -> tuple[str, str]:
    """The precision a run on `device` actually uses ("fp32" or "bf16"), and a one-line note on why
    it differs from the request ("" when the request is used as is)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision = {precision!r} is not allowed; choose one of: {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return "fp32", ""
    import torch
    device = torch.device(device)
    native = device_has_native_bf16(device)
    where = "this CPU" if device.type == "cpu" else f"device {device}"
    if precision == "bf16":
        if native:
            return "bf16", ""
        return "fp32", f"bf16 requested but {where} has no native bf16: running fp32"
    if native and AUTO_BF16.get(device.type, False):
        return "bf16", f"auto: {where} has native bf16: running bf16"
    if native:
        return "fp32", f"auto: bf16 is not yet checked for quality on {device.type}: running fp32"
    return "fp32", f"auto: {where} has no native bf16: running fp32"


def autocast_dtype(precision: str, device: Any) -> "torch.dtype | None":
    """The dtype to autocast the model's forward pass to on `device`, or None for plain fp32."""
    import torch
    used, _ = resolve_precision(precision, device)
    return torch.bfloat16 if used == "bf16" else None


def to_device(batch: Any, device: Any) -> Any:
    """`batch` (a tensor, or a dict/list/tuple of them) on `device`.

    On CUDA, CPU tensors are pinned and copied with non_blocking=True, so the copy overlaps the
    previous step's kernels; elsewhere this is a plain `.to(device)`.
    """
    import torch
    device = torch.device(device)
    if isinstance(batch, torch.Tensor):
        if device.type == "cuda" and batch.device.type == "cpu":
            return batch.pin_memory().to(device, non_blocking=True)
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")  # where torch's fused AdamW kernels run


def fused_optimizer_options(params: Any) -> dict:
    """Keyword arguments that make torch.optim.AdamW one fused kernel per step where every
    parameter is a float tensor on a device with fused kernels (`{"fused": True}`), else `{}`.

    The default per-tensor AdamW reads and writes each parameter, its gradient and two moments
    in about a dozen passes; fused does one. On this 2-core CPU an AdamW step plus gradient
    clipping over MiniLM's 10.7M trainable parameters took 3.6x less time fused
    (docs/BENCHMARKS.md, "Refine throughput"). The update rule is the same.
    """
    params = list(params)
    devices = {p.device.type for p in params}
    if not params or not devices <= set(FUSED_OPTIMIZER_DEVICES) or len(devices) > 1:
        return {}
    if not all(p.is_floating_point() for p in params):
        return {}
    return {"fused": True}


def batch_to_device(x: Any, index: Any, device: Any) -> "torch.Tensor":
    """Rows `index` of `x` (a float32 CPU tensor of the whole split) on `device`, as a training
    step takes them: indexed on the CPU, then copied pinned and non-blocking on CUDA."""
    return to_device(x[index], device)


def split_as_tensor(x: Any, dtype: Any = None) -> "torch.Tensor":
    """A data split (numpy) as one CPU tensor, converted once per stage rather than per batch."""
    import numpy as np
    import torch
    return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype if dtype is not None else torch.float32)
