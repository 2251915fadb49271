"""Predictor heads (ORCA's h_t): body tokens (B, T', hidden) -> task predictions.

    classification   mean-pool tokens + Linear -> logits (B, K)           (cross-entropy)
    multilabel       mean-pool tokens + Linear -> logits (B, K)           (BCE with logits)
    regression       mean-pool tokens + Linear -> (B, *output_shape)
    dense            per-token Linear, folded back onto the input grid -> (B, C_out, L) or (B, C_out, H, W)

The losses live with the training stage; heads return raw scores.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .bodies import Backbone
from .embedders import Embedder, TokenGeometry
from .errors import ConfigError


class PooledHead(nn.Module):
    """Mean over tokens, then one Linear: (B, T', hidden) -> (B, *out_shape)."""

    def __init__(self, hidden: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.out_shape = out_shape
        self.linear = nn.Linear(hidden, max(1, math.prod(out_shape)))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pooled = hidden_states.mean(dim=1)  # (B, hidden)
        return self.linear(pooled).view(-1, *self.out_shape)  # (B, *out_shape)


class DenseHead(nn.Module):
    """Per-token projection folded back onto the input grid (the inverse of the embedder's patchify).

    Each body token predicts a block of C_out x `block` input positions; blocks are laid out on the
    body's output grid and the zero-padding is cropped. When the body shrinks the grid (Swin: T' < T)
    each final token predicts a proportionally larger block: the folded map covers the image as
    resized for the body, and is interpolated back to the input size.
    """

    def __init__(self, hidden: int, channels: int, geometry: TokenGeometry, body_grid: tuple[int, ...]):
        super().__init__()
        self.channels, self.geometry, self.body_grid = channels, geometry, body_grid
        self.block = tuple(math.ceil(c / g) for c, g in zip(geometry.covered, body_grid))
        self.projection = nn.Linear(hidden, channels * math.prod(self.block))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if hidden_states.shape[1] != math.prod(self.body_grid):
            raise ConfigError(f"dense head expects {math.prod(self.body_grid)} tokens from the body, "
                              f"got {hidden_states.shape[1]}; rebuild the head for this input size")
        blocks = self.projection(hidden_states)  # (B, T', C_out * prod(block))
        folded = FOLDS[len(self.body_grid)](blocks, self.body_grid, self.block, self.channels)
        return fitted_to_input(folded, self.geometry)  # (B, C_out, *input_size)


def fold_1d(blocks: torch.Tensor, grid: tuple[int, ...], block: tuple[int, ...], channels: int) -> torch.Tensor:
    """(B, T, C*k) -> (B, C, T*k): token t predicts positions t*k .. t*k + k - 1."""
    (tokens,), (k,) = grid, block
    blocks = blocks.view(-1, tokens, channels, k).permute(0, 2, 1, 3)  # (B, C, T, k)
    return blocks.reshape(-1, channels, tokens * k)  # (B, C, T*k)


def fold_2d(blocks: torch.Tensor, grid: tuple[int, ...], block: tuple[int, ...], channels: int) -> torch.Tensor:
    """(B, gh*gw, C*ph*pw) -> (B, C, gh*ph, gw*pw): tokens row by row, each a ph x pw block."""
    (gh, gw), (ph, pw) = grid, block
    blocks = blocks.view(-1, gh, gw, channels, ph, pw).permute(0, 3, 1, 4, 2, 5)  # (B, C, gh, ph, gw, pw)
    return blocks.reshape(-1, channels, gh * ph, gw * pw)  # (B, C, gh*ph, gw*pw)


FOLDS: dict[int, Callable[..., torch.Tensor]] = {1: fold_1d, 2: fold_2d}


def _cropped(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return x[(..., *(slice(0, n) for n in size))]


def fitted_to_input(folded: torch.Tensor, geometry: TokenGeometry) -> torch.Tensor:
    """Crop padding (and undo the body's resize) so the map matches geometry.input_size."""
    if not geometry.resized:
        return _cropped(folded, geometry.input_size)
    folded = _cropped(folded, geometry.covered)
    if tuple(folded.shape[2:]) == geometry.input_size:
        return folded
    mode = "linear" if len(geometry.input_size) == 1 else "bilinear"
    return F.interpolate(folded, size=geometry.input_size, mode=mode, align_corners=False)


# -- building ----------------------------------------------------------------------------------

def _pooled(num_outputs: int, output_shape: tuple[int, ...], backbone: Backbone, embedder: Embedder) -> nn.Module:
    if num_outputs < 1:
        raise ConfigError(f"a classifier needs at least one output, got num_outputs = {num_outputs}")
    return PooledHead(backbone.hidden, (num_outputs,))


def _regression(num_outputs: int, output_shape: tuple[int, ...], backbone: Backbone, embedder: Embedder) -> nn.Module:
    return PooledHead(backbone.hidden, output_shape)


def _dense(num_outputs: int, output_shape: tuple[int, ...], backbone: Backbone, embedder: Embedder) -> nn.Module:
    geometry = embedder.geometry
    if len(output_shape) != len(geometry.input_size) + 1 or output_shape[1:] != geometry.input_size:
        raise ConfigError(f"dense targets must be (C_out, *input grid) = (C_out, "
                          f"{', '.join(map(str, geometry.input_size))}), got {output_shape}")
    return DenseHead(backbone.hidden, output_shape[0], geometry, backbone.output_grid(geometry.grid))


HEADS: dict[str, Callable[..., nn.Module]] = {
    "classification": _pooled, "multilabel": _pooled, "regression": _regression, "dense": _dense}


def build_head(task: str, num_outputs: int, output_shape: tuple[int, ...], backbone: Backbone,
               embedder: Embedder) -> nn.Module:
    """The predictor for `task`: (B, T', backbone.hidden) -> predictions (see the module docstring)."""
    if task not in HEADS:
        raise ConfigError(f"task {task!r} is not supported; choose one of: {', '.join(HEADS)}")
    return HEADS[task](int(num_outputs), tuple(int(n) for n in output_shape), backbone, embedder)
