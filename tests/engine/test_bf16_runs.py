"""bf16 on a tiny backbone: the autocast rule gives a finite training step, evaluation and run."""
import json

import numpy as np
import pytest
import torch

from orca_engine.config import ModelConfig
from orca_engine.hardware import resolve_precision
from orca_engine.model import build_model
from orca_engine.predict import model_outputs
from orca_engine.session import Session


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(modality="sequence", task="classification", input_shape=(1, 32), output_shape=(),
                       num_outputs=3, backbone_name="tiny-bert", model_cfg=ModelConfig())


def test_bf16_autocast_step_runs_the_body_in_bf16_with_finite_loss_and_gradients(model):
    x, y = torch.randn(8, 1, 32), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    seen = []
    linear = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear))
    hook = linear.register_forward_hook(lambda m, inp, out: seen.append(out.dtype))
    try:
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16):  # what autocast_dtype("bf16", cpu) gives where native
            out = model(x)
        loss = torch.nn.functional.cross_entropy(out.float(), y)
        loss.backward()
    finally:
        hook.remove()
        model.zero_grad(set_to_none=True)
    assert seen == [torch.bfloat16], "the body's matrix products should run in bf16 under autocast"
    assert torch.isfinite(loss)


def test_evaluation_follows_the_precision_rule_and_returns_fp32(model, monkeypatch):
    x = np.random.default_rng(0).normal(size=(20, 1, 32)).astype(np.float32)
    fp32 = model_outputs(model, x)
    bf16 = model_outputs(model, x, precision="bf16")
    assert bf16.dtype == np.float32 and np.isfinite(bf16).all()
    np.testing.assert_allclose(bf16, fp32, atol=0.1)  # bf16 keeps ~3 significant digits
    monkeypatch.setenv("ORCA_FORCE_NO_BF16", "1")
    np.testing.assert_array_equal(model_outputs(model, x, precision="bf16"), fp32)


@pytest.mark.parametrize("precision, force_no_bf16", [("bf16", False), ("bf16", True), ("auto", True)])
def test_tiny_run_with_precision_bf16_on_cpu_finishes_with_finite_loss(tmp_path, monkeypatch, precision,
                                                                       force_no_bf16):
    if force_no_bf16:
        monkeypatch.setenv("ORCA_FORCE_NO_BF16", "1")
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", live_projection=False)
    config = {"data": {"source": "digits", "train_fraction": 0.3}, "model": {"backbone": "tiny-bert"},
              "refine": {"epochs": 1, "batch_size": 64}, "device": "cpu", "precision": precision}
    run = session.start(config, stages=("refine", "evaluate"))
    status = session.wait(run, timeout=240)
    assert status.state in ("finished", "idle"), status.error
    events = session.events(run)
    losses = [e["loss"] for e in events if e["type"] == "step" and e["stage"] == "refine"]
    assert losses and np.isfinite(losses).all()
    metrics = json.loads((session.run_dir(run) / "metrics.json").read_text())
    assert all(np.isfinite(v) for v in metrics["test"].values())
    used, note = resolve_precision(precision, torch.device("cpu"))
    assert metrics["model"]["precision"] == used
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    if precision == "bf16":  # asked for bf16 and not given it: a warning says so
        assert (note in warnings) if note else not any("bf16" in w for w in warnings)
    else:  # auto: the choice is recorded in metrics.json, not warned about
        assert not any("bf16" in w for w in warnings)
    if force_no_bf16:
        assert used == "fp32" and metrics["model"]["precision_note"] == note
