"""Device and precision decisions (orca_engine.hardware): detection, fallback, the autocast table."""
from pathlib import Path

import pytest
import torch

from orca_engine import hardware
from orca_engine.errors import ConfigError
from orca_engine.hardware import autocast_dtype, cpu_has_native_bf16, resolve_device, resolve_precision, to_device

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_forced_no_bf16_runs_fp32_and_says_why(monkeypatch):
    monkeypatch.setenv("ORCA_FORCE_NO_BF16", "1")
    assert cpu_has_native_bf16() is False
    used, note = resolve_precision("bf16", CPU)
    assert used == "fp32" and note == "bf16 requested but this CPU has no native bf16: running fp32"
    assert resolve_precision("auto", CPU)[0] == "fp32" and "no native bf16" in resolve_precision("auto", CPU)[1]
    assert autocast_dtype("bf16", CPU) is None and autocast_dtype("auto", CPU) is None


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc/cpuinfo")
def test_cpu_detection_agrees_with_the_cpuinfo_flags(monkeypatch):
    monkeypatch.delenv("ORCA_FORCE_NO_BF16", raising=False)
    flags = hardware._cpuinfo_flags()
    assert cpu_has_native_bf16() == bool(flags & {"amx_bf16", "avx512_bf16"}), sorted(flags & {"amx_bf16",
                                                                                            "avx512_bf16"})


BF16 = torch.bfloat16
AUTO_CPU = BF16 if hardware.AUTO_BF16.get("cpu") else None


@pytest.mark.parametrize("precision, device, native, expected", [
    ("fp32", CPU, True, None), ("fp32", CUDA, True, None), ("fp32", CPU, False, None),
    ("bf16", CPU, True, BF16), ("bf16", CPU, False, None),
    ("bf16", CUDA, True, BF16), ("bf16", CUDA, False, None),
    ("auto", CPU, True, AUTO_CPU), ("auto", CPU, False, None),
    ("auto", CUDA, True, BF16), ("auto", CUDA, False, None),
])
def test_autocast_dtype_table(monkeypatch, precision, device, native, expected):
    monkeypatch.setattr(hardware, "device_has_native_bf16", lambda d: native)
    assert autocast_dtype(precision, device) == expected
    used, note = resolve_precision(precision, device)
    assert used == ("bf16" if expected is not None else "fp32")
    assert (note == "") == (precision == "fp32" or (precision == "bf16" and native))


def test_unknown_precision_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"precision = 'fp16' is not allowed; choose one of: fp32, bf16, auto"):
        resolve_precision("fp16", CPU)


def test_resolve_device():
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto") == (CUDA if torch.cuda.is_available() else CPU)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device is visible"):
            resolve_device("cuda:0")


def test_to_device_keeps_the_batch_structure():
    batch = {"x": torch.ones(2, 3), "pair": (torch.zeros(2), torch.arange(2)), "name": "digits"}
    moved = to_device(batch, CPU)
    assert set(moved) == set(batch) and isinstance(moved["pair"], tuple) and moved["name"] == "digits"
    assert torch.equal(moved["x"], batch["x"]) and moved["pair"][1].dtype == torch.long


def test_fused_optimizer_options_only_where_fused_kernels_run():
    from orca_engine.hardware import fused_optimizer_options
    weights = [torch.nn.Parameter(torch.ones(3, 3)), torch.nn.Parameter(torch.zeros(3))]
    assert fused_optimizer_options(weights) == {"fused": True}
    assert fused_optimizer_options([]) == {}
    assert fused_optimizer_options([torch.nn.Parameter(torch.ones(2, dtype=torch.float64)),
                                    torch.zeros(2, dtype=torch.long)]) == {}
    assert fused_optimizer_options([torch.ones(2, device="meta")]) == {}
    # the fused AdamW takes the same step as the per-tensor one
    a, b = (torch.nn.Parameter(torch.arange(6.0).reshape(2, 3)) for _ in range(2))
    for p, opts in ((a, {}), (b, fused_optimizer_options([b]))):
        opt = torch.optim.AdamW([p], lr=0.1, weight_decay=0.01, **opts)
        for _ in range(3):
            p.grad = torch.full_like(p, 0.5)
            opt.step()
    torch.testing.assert_close(a, b)


def test_batch_to_device_takes_rows_of_a_split():
    import numpy as np
    from orca_engine.hardware import batch_to_device, split_as_tensor
    x = split_as_tensor(np.arange(12, dtype=np.float64).reshape(4, 3))
    assert x.dtype == torch.float32
    rows = batch_to_device(x, torch.tensor([2, 0]), CPU)
    assert rows.tolist() == [[6.0, 7.0, 8.0], [0.0, 1.0, 2.0]]
