"""Refinement pieces: learning-rate schedule, parameter groups, scopes, targets."""
import numpy as np
import pytest
import torch

from orca_engine.config import ModelConfig
from orca_engine.model import build_model
from orca_engine.stages.refine import (parameter_groups, select_trainable, training_targets,
                                       warmup_then_linear_decay)


@pytest.fixture(scope="module")
def model():
    return build_model(modality="sequence", task="classification", input_shape=(1, 32), output_shape=(),
                       num_outputs=3, backbone_name="tiny-bert", model_cfg=ModelConfig())


def test_schedule_warms_up_linearly_then_decays_to_zero():
    factor = warmup_then_linear_decay(100, 0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5) and factor(100) == 0.0
    assert warmup_then_linear_decay(10, 0.0)(0) == 1.0


def test_new_layers_get_the_scaled_rate_and_the_body_the_base_rate(model):
    params = select_trainable(model, "full")
    body, new = parameter_groups(model, params, lr=1e-4, new_layers_scale=10.0)
    assert body["lr"] == 1e-4 and new["lr"] == pytest.approx(1e-3)
    new_ids = {id(p) for m in (model.embedder, model.head) for p in m.parameters()}
    assert all(id(p) in new_ids for p in new["params"]) and not any(id(p) in new_ids for p in body["params"])
    assert len(body["params"]) + len(new["params"]) == len(params)


def test_frozen_body_scope_trains_only_new_layers(model):
    params = select_trainable(model, "frozen-body")
    groups = parameter_groups(model, params, lr=1e-4, new_layers_scale=10.0)
    assert len(groups) == 1 and groups[0]["lr"] == pytest.approx(1e-3)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    select_trainable(model, "full")


def test_regression_targets_are_standardised_with_training_statistics():
    info = {"task": "regression", "target_mean": [10.0], "target_std": [2.0]}
    y = training_targets(np.array([8.0, 10.0, 14.0]), info)
    assert torch.allclose(y, torch.tensor([-1.0, 0.0, 2.0]))
    assert training_targets(np.array([1, 0]), {"task": "classification"}).dtype == torch.long
