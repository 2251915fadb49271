"""Heads: folding per-token predictions back onto the input grid, and locality of dense outputs."""
from __future__ import annotations

import pytest
import torch

from model_cases import shared_backbone
from orca_engine.config import ModelConfig
from orca_engine.embedders import TokenGeometry, build_embedder
from orca_engine.errors import ConfigError
from orca_engine.heads import DenseHead, build_head, fitted_to_input, fold_1d, fold_2d


def test_fold_2d_inverts_patchify():
    image = torch.randn(2, 3, 8, 12)  # (B, C, H, W), patches 4 x 4 -> grid 2 x 3
    patches = image.view(2, 3, 2, 4, 3, 4).permute(0, 2, 4, 1, 3, 5).reshape(2, 6, 3 * 16)  # (B, T, C*p*p)
    torch.testing.assert_close(fold_2d(patches, (2, 3), (4, 4), 3), image)


def test_fold_1d_inverts_strided_chunks():
    series = torch.randn(2, 3, 20)  # (B, C, L), chunks of 5 -> 4 tokens
    chunks = series.view(2, 3, 4, 5).permute(0, 2, 1, 3).reshape(2, 4, 15)  # (B, T, C*k)
    torch.testing.assert_close(fold_1d(chunks, (4,), (5,), 3), series)


def test_padding_is_cropped_and_resized_maps_are_interpolated_back():
    padded = TokenGeometry((7, 9), (2, 3), (4, 4))
    assert fitted_to_input(torch.randn(1, 2, 8, 12), padded).shape == (1, 2, 7, 9)
    resized = TokenGeometry((28, 28), (8, 8), (4, 4), resized=True)
    assert fitted_to_input(torch.randn(1, 2, 32, 32), resized).shape == (1, 2, 28, 28)


def test_each_dense_token_predicts_only_its_own_patch():
    head = DenseHead(hidden=6, channels=2, geometry=TokenGeometry((8, 8), (2, 2), (4, 4)), body_grid=(2, 2))
    tokens = torch.randn(1, 4, 6, requires_grad=True)  # token 1 = top-right patch
    head(tokens)[:, :, :4, 4:].sum().backward()
    grad_norms = tokens.grad.abs().sum(dim=-1)[0]  # (T,)
    assert grad_norms[1] > 0 and torch.count_nonzero(grad_norms) == 1


def test_dense_targets_must_share_the_input_grid():
    body = shared_backbone("tiny-bert")
    embedder = build_embedder((1, 8, 8), "image", body, ModelConfig())
    with pytest.raises(ConfigError, match="dense targets"):
        build_head("dense", 2, (2, 8, 9), body, embedder)
    with pytest.raises(ConfigError, match="classification"):
        build_head("segmentation", 2, (2,), body, embedder)


def test_scalar_regression_predicts_one_number_per_sample():
    body = shared_backbone("tiny-bert")
    embedder = build_embedder((13,), "tabular", body, ModelConfig())
    head = build_head("regression", 1, (), body, embedder)
    assert head(torch.randn(4, embedder.num_tokens, body.hidden)).shape == (4,)
