"""Embedders: token budgets, geometry rules, initialisation (copy vs random) and the scale of tokens."""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from model_cases import INPUTS, SUPPORTS, TINY, VISION_TINY, shared_backbone
from orca_engine.backbones import BACKBONES
from orca_engine.config import ModelConfig
from orca_engine.embedders import build_embedder, channel_mapped, patch_side, sequence_stride
from orca_engine.errors import ConfigError

CASES = [(name, case) for name in TINY for case, (modality, _) in INPUTS.items()
         if modality in SUPPORTS[BACKBONES.get(name).kind]]


@pytest.mark.parametrize("name,case", CASES)
@pytest.mark.parametrize("max_tokens", [64, 16])
def test_tokens_fit_the_budget_and_the_body(name, case, max_tokens):
    body, (modality, shape) = shared_backbone(name), INPUTS[case]
    embedder = build_embedder(shape, modality, body, ModelConfig(max_tokens=max_tokens))
    tokens = embedder(torch.randn(2, *shape))
    assert tokens.shape == (2, embedder.num_tokens, body.embed_dim)
    assert embedder.num_tokens <= body.max_tokens
    if body.kind == "text":  # Swin's grid is fixed by its pretraining image size
        assert embedder.num_tokens <= max_tokens
    assert all(c >= n for c, n in zip(embedder.geometry.covered, embedder.geometry.input_size))


@pytest.mark.parametrize("length,max_tokens", [(100, 64), (1000, 64), (64, 64), (30, 64), (97, 16), (4096, 512)])
def test_sequence_stride_follows_the_papers_divisor_rule_unless_it_wastes_the_budget(length, max_tokens):
    k = sequence_stride(length, max_tokens)
    tokens = math.ceil(length / k)
    assert tokens <= max_tokens
    smallest_divisor = min(d for d in range(1, length + 1) if length % d == 0 and length // d <= max_tokens)
    if length % k == 0:
        assert k == smallest_divisor
    else:  # padded fallback: only when the divisor rule would leave under half the tokens
        assert length // smallest_divisor < tokens / 2


@pytest.mark.parametrize("height,width,max_tokens", [(28, 28, 64), (8, 8, 64), (32, 32, 64), (13, 29, 20)])
def test_patch_side_is_the_smallest_that_fits(height, width, max_tokens):
    p = patch_side(height, width, max_tokens)
    assert math.ceil(height / p) * math.ceil(width / p) <= max_tokens
    assert p == 1 or math.ceil(height / (p - 1)) * math.ceil(width / (p - 1)) > max_tokens


def test_explicit_patch_size_over_budget_is_a_config_error():
    with pytest.raises(ConfigError, match="model.patch_size"):
        build_embedder((3, 28, 28), "image", shared_backbone("tiny-bert"), ModelConfig(patch_size=2, max_tokens=64))


def test_many_features_share_tokens():
    embedder = build_embedder((100,), "tabular", shared_backbone("tiny-bert"), ModelConfig(max_tokens=16))
    assert embedder.num_tokens <= 16 and embedder.geometry.patch[0] * embedder.num_tokens >= 100
    x = torch.randn(3, 100)
    y = x.clone()
    y[:, -1] += 1  # the last feature must reach its (zero-padded) group's token
    assert not torch.allclose(embedder(x)[:, -1], embedder(y)[:, -1])


@pytest.mark.parametrize("modality,shape", [("sequence", (3, 100)), ("tabular", (13,))])
def test_vision_body_rejects_non_image_inputs(modality, shape):
    with pytest.raises(ConfigError, match="text backbone"):
        build_embedder(shape, modality, shared_backbone(VISION_TINY[0]), ModelConfig())


def test_input_shape_must_match_the_modality():
    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        build_embedder((28, 28), "image", shared_backbone("tiny-bert"), ModelConfig())


@pytest.mark.parametrize("name", TINY)
def test_copy_init_takes_the_bodys_weights_and_random_does_not(name):
    body = shared_backbone(name)
    shape = (3, 28, 28)
    copied = build_embedder(shape, "image", body, ModelConfig(embedder_init="copy"))
    fresh = build_embedder(shape, "image", body, ModelConfig(embedder_init="random"))
    torch.testing.assert_close(copied.finish.norm.weight, body.embedding_norm.weight)
    torch.testing.assert_close(copied.finish.norm.bias, body.embedding_norm.bias)
    if body.kind == "text":
        torch.testing.assert_close(copied.finish.positions, body.position_table(copied.num_tokens))
        assert not torch.allclose(fresh.finish.positions, copied.finish.positions)
    else:
        torch.testing.assert_close(copied.projection.weight, body.patch_projection.weight)
        assert not torch.allclose(fresh.projection.weight, copied.projection.weight)
    torch.testing.assert_close(fresh.finish.norm.weight, torch.full_like(fresh.finish.norm.weight, body.token_std))


def test_grey_kernel_answers_like_the_rgb_kernel_on_a_grey_image():
    weight = torch.randn(8, 3, 4, 4)
    grey = torch.rand(2, 1, 16, 16)
    torch.testing.assert_close(F.conv2d(grey, channel_mapped(weight, 1)), F.conv2d(grey.expand(-1, 3, -1, -1), weight))
    assert channel_mapped(weight, 5).shape == (8, 5, 4, 4)


@pytest.fixture(scope="module")
def minilm():
    from orca_engine.backbones import load_backbone
    return load_backbone("minilm")


@pytest.mark.parametrize("init", ["copy", "random"])
@pytest.mark.parametrize("case", ["sequence", "rgb-28", "tabular"])
def test_tokens_live_at_the_bodys_scale(minilm, init, case):
    """ORCA.md 'Scale matters': MiniLM's own tokens have std ~0.55, far from a unit LayerNorm's 1."""
    modality, shape = INPUTS[case]
    embedder = build_embedder(shape, modality, minilm, ModelConfig(embedder_init=init))
    with torch.no_grad():
        std = embedder(5 * torch.randn(8, *shape)).std().item()
    assert 0.75 < std / minilm.token_std < 1.33
