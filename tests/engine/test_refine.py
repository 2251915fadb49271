"""Refinement pieces: learning-rate schedule, parameter groups, scopes, targets."""
import dataclasses

import numpy as np
import pytest
import torch

from orca_engine.config import ModelConfig
from orca_engine.contracts import BuildInfo
from orca_engine.model import build_model
from orca_engine.stages.refine import batches, training_targets, warmup_then_linear_decay


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
    model.set_trainable("full")
    groups = model.parameter_groups("full", weight_decay=0.01, lr=1e-4, new_layers_scale=10.0)
    new_ids = {id(p) for m in (model.embedder, model.head) for p in m.parameters()}
    for g in groups:
        assert g["lr"] == pytest.approx(1e-3 if g["new_layers"] else 1e-4)
        assert all((id(p) in new_ids) == g["new_layers"] for p in g["params"])
        assert g["weight_decay"] == 0.0 or all(p.dim() >= 2 for p in g["params"])
    assert sum(len(g["params"]) for g in groups) == len(model.trainable_parameters("full"))


def test_frozen_body_scope_trains_only_new_layers(model):
    model.set_trainable("frozen-body")
    groups = model.parameter_groups("frozen-body", lr=1e-4, new_layers_scale=10.0)
    assert all(g["new_layers"] and g["lr"] == pytest.approx(1e-3) for g in groups)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    model.set_trainable("full")


def test_batches_are_full_and_cover_every_sample_each_epoch():
    gen = torch.Generator().manual_seed(0)
    stream = batches(10, 4, gen)
    epoch = [next(stream) for _ in range(2)]
    assert all(len(b) == 4 for b in epoch) and len(set(torch.cat(epoch).tolist())) == 8
    assert [len(next(batches(3, 8, gen)))] == [3]  # fewer samples than a batch: one batch of all


def test_regression_targets_are_standardised_with_training_statistics():
    info = BuildInfo(modality="tabular", task="regression", input_shape=(3,), output_shape=(), num_outputs=1,
                     target_mean=[10.0], target_std=[2.0])
    y = training_targets(np.array([8.0, 10.0, 14.0]), info)
    assert torch.allclose(y, torch.tensor([-1.0, 0.0, 2.0]))
    classes = dataclasses.replace(info, task="classification", num_outputs=2)
    assert training_targets(np.array([1, 0]), classes).dtype == torch.long
