"""Embedders (ORCA's f_t): turn target inputs of any modality into tokens the body accepts.

Every embedder maps x -> tokens (B, T, D), D = backbone.embed_dim, T <= the token budget, and ends
the same way: LayerNorm, then the body's learned positions added when it has them (ORCA's
Embeddings1D/2D; text bodies do, the usual Swins use relative positions inside attention). Image
patches on a text body take the body's 1-D positions in row-major order.

Initialisation (`model.embedder_init`), independent of alignment:
  - "copy": the LayerNorm affine, the position embeddings and (for Swin) the patch-embedding conv
    are copied from the body's own embedding layer, so the tokens start at the body's scale;
  - "random": those stay random, except the LayerNorm gain, set to `backbone.token_std`: tokens
    at the wrong scale can collapse a pretrained body to chance (ORCA.md, "Scale matters").

Token geometry (`Embedder.geometry`) records which input positions each token covers, so a dense
head can fold per-token predictions back onto the input grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .backbones import BACKBONES
from .bodies import Backbone
from .config import ModelConfig
from .errors import ConfigError

INIT_POSITION_STD = 0.02  # BERT / RoBERTa / Swin initializer_range


@dataclass(frozen=True)
class TokenGeometry:
    """Which input positions each token covers.

    input_size: the input's own grid, (L,) for sequences, (H, W) for images, (F,) for tabular rows.
    grid: tokens along each axis. patch: input positions per token along each axis.
    resized: the input was resized to grid * patch (Swin), rather than zero-padded up to it.
    """

    input_size: tuple[int, ...]
    grid: tuple[int, ...]
    patch: tuple[int, ...]
    resized: bool = False

    @property
    def num_tokens(self) -> int:
        return math.prod(self.grid)

    @property
    def covered(self) -> tuple[int, ...]:
        """Input extent the tokens cover: the padded (or resized) input grid."""
        return tuple(g * p for g, p in zip(self.grid, self.patch))


class TokenFinish(nn.Module):
    """LayerNorm over the token width, then the body's learned positions added: (B, T, D) -> (B, T, D)."""

    def __init__(self, num_tokens: int, backbone: Backbone, init: str):
        super().__init__()
        source_norm, table = backbone.embedding_norm, backbone.position_table(num_tokens)
        self.norm = nn.LayerNorm(backbone.embed_dim, eps=source_norm.eps)
        self.positions = None if table is None else nn.Parameter(torch.empty(num_tokens, backbone.embed_dim))
        with torch.no_grad():
            if init == "copy":
                self.norm.load_state_dict(source_norm.state_dict())
                if self.positions is not None:
                    self.positions.copy_(table)
            else:
                self.norm.weight.fill_(backbone.token_std)
                if self.positions is not None:
                    nn.init.normal_(self.positions, std=INIT_POSITION_STD)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(tokens)
        return tokens if self.positions is None else tokens + self.positions  # (B, T, D)


class Embedder(nn.Module):
    """Base of every embedder: x -> (B, T, D), with the geometry a dense head needs."""

    geometry: TokenGeometry

    @property
    def num_tokens(self) -> int:
        return self.geometry.num_tokens

    @property
    def embed_dim(self) -> int:
        return self.finish.norm.normalized_shape[0]


class Conv1dEmbedder(Embedder):
    """Sequences (B, C, L): Conv1d(C, D, kernel=stride=k), ORCA's 1-D embedder.

    k is the smallest divisor of L leaving at most `max_tokens` tokens (the paper's rule). When that
    wastes over half the budget (e.g. prime L), k = ceil(L / max_tokens) and the end is zero-padded.
    """

    def __init__(self, input_shape: tuple[int, ...], backbone: Backbone, cfg: ModelConfig, max_tokens: int):
        super().__init__()
        channels, length = input_shape
        stride = sequence_stride(length, max_tokens)
        tokens = math.ceil(length / stride)
        self.pad = tokens * stride - length
        self.geometry = TokenGeometry((length,), (tokens,), (stride,))
        self.projection = nn.Conv1d(channels, backbone.embed_dim, kernel_size=stride, stride=stride)
        self.finish = TokenFinish(tokens, backbone, cfg.embedder_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, self.pad))  # (B, C, T*k)
        tokens = self.projection(x).transpose(1, 2)  # (B, T, D)
        return self.finish(tokens)


class PatchifyEmbedder(Embedder):
    """Images (B, C, H, W) on a text body: Conv2d(C, D, p, stride=p) patches, flattened row by row.

    p is `model.patch_size`, or the smallest side leaving at most `max_tokens` patches; the image is
    zero-padded at the bottom/right up to a multiple of p.
    """

    def __init__(self, input_shape: tuple[int, ...], backbone: Backbone, cfg: ModelConfig, max_tokens: int):
        super().__init__()
        channels, height, width = input_shape
        side = cfg.patch_size or patch_side(height, width, max_tokens)
        grid = (math.ceil(height / side), math.ceil(width / side))
        if math.prod(grid) > max_tokens:
            raise ConfigError(f"model.patch_size = {side} cuts {height}x{width} images into {math.prod(grid)} tokens, "
                              f"more than the {max_tokens} allowed (model.max_tokens, capped by the backbone); "
                              f"use patch_size >= {patch_side(height, width, max_tokens)} or 0 (automatic)")
        self.pad = (0, grid[1] * side - width, 0, grid[0] * side - height)
        self.geometry = TokenGeometry((height, width), grid, (side, side))
        self.projection = nn.Conv2d(channels, backbone.embed_dim, kernel_size=side, stride=side)
        self.finish = TokenFinish(math.prod(grid), backbone, cfg.embedder_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.pad)  # (B, C, gh*p, gw*p)
        tokens = self.projection(x).flatten(2).transpose(1, 2)  # (B, gh*gw, D)
        return self.finish(tokens)


class SwinPatchEmbedder(Embedder):
    """Images (B, C, H, W) on Swin: resize to its pretraining size, Conv2d(C, D, 4, stride=4) + LayerNorm.

    It stands in for Swin's own patch embedding. "copy" init takes Swin's conv when C = 3; otherwise
    each input channel gets the RGB-mean kernel scaled by 3 / C (for grey images: the same response
    as the grey image repeated on R, G and B).
    """

    def __init__(self, input_shape: tuple[int, ...], backbone: Backbone, cfg: ModelConfig, max_tokens: int):
        super().__init__()
        channels, height, width = input_shape
        side, size = backbone.patch_size, backbone.image_size
        self.size = (size, size)
        self.geometry = TokenGeometry((height, width), (size // side, size // side), (side, side), resized=True)
        self.projection = nn.Conv2d(channels, backbone.embed_dim, kernel_size=side, stride=side)
        self.finish = TokenFinish(self.num_tokens, backbone, cfg.embedder_init)
        if cfg.embedder_init == "copy":
            source = backbone.patch_projection
            with torch.no_grad():
                self.projection.weight.copy_(channel_mapped(source.weight, channels))
                self.projection.bias.copy_(source.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)  # (B, C, S, S)
        tokens = self.projection(x).flatten(2).transpose(1, 2)  # (B, (S/4)^2, D)
        return self.finish(tokens)


class FeatureTokenEmbedder(Embedder):
    """Tabular rows (B, F): one token per feature, token_f = x_f * w_f + b_f (FT-Transformer style).

    When F > max_tokens, g = ceil(F / max_tokens) consecutive features share a token,
    token_t = sum_j x_{t,j} * w_{t,j} + b_t (zero-padding the last group). The bias is random, not
    zero: LayerNorm(x_f * w_f) alone would keep only the sign of x_f.
    """

    def __init__(self, input_shape: tuple[int, ...], backbone: Backbone, cfg: ModelConfig, max_tokens: int):
        super().__init__()
        (features,) = input_shape
        group = math.ceil(features / max_tokens)
        tokens = math.ceil(features / group)
        self.pad = tokens * group - features
        self.geometry = TokenGeometry((features,), (tokens,), (group,))
        self.weight = nn.Parameter(torch.randn(tokens, group, backbone.embed_dim) / math.sqrt(group))
        self.bias = nn.Parameter(torch.randn(tokens, backbone.embed_dim))
        self.finish = TokenFinish(tokens, backbone, cfg.embedder_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, self.pad))  # (B, T*g)
        x = x.view(x.shape[0], *self.geometry.grid, self.geometry.patch[0])  # (B, T, g)
        tokens = torch.einsum("btg,tgd->btd", x, self.weight) + self.bias  # (B, T, D)
        return self.finish(tokens)


# -- geometry rules ----------------------------------------------------------------------------

def sequence_stride(length: int, max_tokens: int) -> int:
    """Conv1d kernel = stride for a length-`length` sequence and a token budget (see Conv1dEmbedder)."""
    divisor = next(k for k in range(1, length + 1) if length % k == 0 and length // k <= max_tokens)
    padded = math.ceil(length / max_tokens)
    return padded if math.ceil(length / padded) > 2 * (length // divisor) else divisor


def patch_side(height: int, width: int, max_tokens: int) -> int:
    """Smallest square patch side cutting a (zero-padded) height x width image into <= max_tokens patches."""
    return next(p for p in range(1, max(height, width) + 1)
                if math.ceil(height / p) * math.ceil(width / p) <= max_tokens)


def channel_mapped(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """An RGB conv kernel (D, 3, k, k) adapted to `channels` inputs: itself, or the channel mean x 3 / C."""
    if weight.shape[1] == channels:
        return weight.clone()
    mean = weight.mean(dim=1, keepdim=True) * weight.shape[1] / channels  # (D, 1, k, k)
    return mean.expand(-1, channels, -1, -1).clone()  # (D, C, k, k)


# -- building ----------------------------------------------------------------------------------

EMBEDDERS: dict[tuple[str, str], type[Embedder]] = {
    ("sequence", "text"): Conv1dEmbedder,
    ("image", "text"): PatchifyEmbedder,
    ("image", "vision"): SwinPatchEmbedder,
    ("tabular", "text"): FeatureTokenEmbedder,
}
INPUT_DIMS = {"sequence": ("(C, L)", 2), "image": ("(C, H, W)", 3), "tabular": ("(F,)", 1)}


def build_embedder(input_shape: tuple[int, ...], modality: str, backbone: Backbone, model_cfg: ModelConfig) -> Embedder:
    """The embedder for one sample shape `input_shape` of `modality` feeding `backbone`."""
    if modality not in INPUT_DIMS:
        raise ConfigError(f"modality {modality!r} is not supported; choose one of: {', '.join(INPUT_DIMS)}")
    layout, dims = INPUT_DIMS[modality]
    input_shape = tuple(int(n) for n in input_shape)
    if len(input_shape) != dims or min(input_shape) < 1:
        raise ConfigError(f"{modality} inputs must have per-sample shape {layout}, got {input_shape}")
    embedder_class = EMBEDDERS.get((modality, backbone.kind))
    if embedder_class is None:
        text = ", ".join(n for n, s in BACKBONES.items() if s.kind == "text")
        raise ConfigError(f"backbone {backbone.spec.name!r} is a {backbone.kind} body and takes images only; "
                          f"for {modality} data pick a text backbone ({text})")
    max_tokens = min(model_cfg.max_tokens, backbone.max_tokens)
    return embedder_class(input_shape, backbone, model_cfg, max_tokens)
