"""The assembled model: every offline backbone x modality x task runs forward and backward; scopes; rebuild."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from model_cases import INPUTS, cases, target
from orca_engine.config import ModelConfig
from orca_engine.errors import ConfigError
from orca_engine.model import ModelShapes, build_model


def shapes_for(case: str, task: str) -> ModelShapes:
    modality, input_shape = INPUTS[case]
    output_shape, num_outputs, _ = target(task, modality, input_shape)
    return ModelShapes(modality, task, input_shape, output_shape, num_outputs)


@pytest.mark.parametrize("name,case,task", cases())
def test_forward_shape_and_finite_gradients(name, case, task):
    torch.manual_seed(0)
    shapes = shapes_for(case, task)
    model = build_model(shapes, name, ModelConfig(backbone=name)).train()
    x = torch.randn(2, *shapes.input_shape)
    predictions = model(x)
    assert predictions.shape == (2, *target(task, shapes.modality, shapes.input_shape)[2])
    assert model.embed(x).shape == (2, model.embedder.num_tokens, model.backbone.embed_dim)
    predictions.square().mean().backward()
    trained = model.trainable_parameters("full")
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in trained)
    assert all(p.grad is None for p in model.backbone.source_embedding.parameters())


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-swin"])
def test_scopes_select_what_they_claim(name):
    model = build_model(shapes_for("rgb-28", "classification"), name, ModelConfig(backbone=name))
    count = lambda params: sum(p.numel() for p in params)  # noqa: E731
    own = count(model.embedder.parameters()) + count(model.head.parameters())
    body = {n: p for n, p in model.backbone.named_parameters() if not n.startswith("source_embedding.")}
    norms = sum(p.numel() for n, p in body.items() if "norm" in n.lower())
    assert norms > 0 and count(model.trainable_parameters("frozen-body")) == own
    assert count(model.trainable_parameters("layernorm")) == own + norms
    assert count(model.trainable_parameters("full")) == own + count(body.values())
    with pytest.raises(ConfigError, match="frozen-body"):
        model.trainable_parameters("attention")


def test_set_trainable_freezes_the_body_and_groups_cover_the_scope():
    model = build_model(shapes_for("sequence", "regression"), "tiny-bert", ModelConfig(backbone="tiny-bert")).train()
    model.set_trainable("frozen-body")
    model(torch.randn(2, 3, 100)).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.head.parameters())
    groups = model.parameter_groups("layernorm", weight_decay=0.1)
    assert sum(len(g["params"]) for g in groups) == len(model.trainable_parameters("layernorm"))
    undecayed = [p for g in groups if g["weight_decay"] == 0.0 for p in g["params"]]
    assert undecayed and all(p.dim() == 1 for p in undecayed if p.numel() > 1)
    assert all(g["weight_decay"] == 0.1 for g in groups if g["weight_decay"])


def test_a_saved_model_rebuilds_from_its_shapes_and_config(tmp_path):
    torch.manual_seed(0)
    shapes, cfg = shapes_for("grey-8", "dense"), ModelConfig(backbone="tiny-roberta", embedder_init="random")
    model = build_model(shapes, model_cfg=cfg)
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    torch.manual_seed(1)
    rebuilt = build_model(ModelShapes.of(shapes.to_dict()), model_cfg=cfg, pretrained=False)
    x = torch.randn(2, *shapes.input_shape)
    assert not torch.allclose(rebuilt(x), model(x))
    rebuilt.load_state_dict(load_file(tmp_path / "model.safetensors"))
    torch.testing.assert_close(rebuilt(x), model(x))


def test_minilm_model_runs_end_to_end_on_a_sequence():
    model = build_model(shapes_for("sequence", "classification"), "minilm").train()
    model(torch.randn(2, 3, 100)).logsumexp(-1).mean().backward()
    assert model.embedder.projection.weight.grad is not None
    assert model.backbone.encoder.layer[0].attention.self.query.weight.grad is not None


def test_build_model_takes_plain_shape_keywords_or_an_info_object():
    shapes = shapes_for("tabular", "classification")
    model = build_model(**shapes.to_dict(), backbone_name="tiny-bert", model_cfg=ModelConfig(backbone="tiny-bert"))
    assert model(torch.randn(2, 13)).shape == (2, 3)
    with pytest.raises(ConfigError, match="all five"):
        build_model(modality="tabular", task="classification", backbone_name="tiny-bert")
