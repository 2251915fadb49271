"""Backbone modules: a pretrained encoder stack fed with tokens, plus its own frozen embedding layer.

Built by `build_backbone` from a transformers model, which `orca_engine.backbones.load_backbone`
calls once the body is known to be available; that module holds the torch-free registry (this one
imports it, never the reverse at import time). Text bodies (BERT, RoBERTa) keep the token grid;
Swin shrinks it by stages.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn

from .backbones import BACKBONES, FAMILIES, BackboneSpec, load_from_source
from .errors import BackboneError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Backbone(nn.Module):
    """A pretrained encoder stack fed with tokens, plus its own (frozen) embedding layer.

    forward(tokens (B, T, embed_dim)) -> (B, T', hidden); embed_source(own-modality batch) ->
    (B, T, embed_dim). What an embedder may copy: `embedding_norm` (LayerNorm), `position_table(T)`
    (T, embed_dim) or None, `patch_projection` (Conv2d) or None.
    """

    embed_dim: int     # token width the encoder takes
    hidden: int        # token width it returns
    token_std: float   # std of its own input tokens (embed_source output), measured once at load

    def __init__(self, spec: BackboneSpec, hf_model: nn.Module):
        super().__init__()
        self.spec = spec
        self.config = hf_model.config
        self.source_embedding = hf_model.embeddings
        self.source_embedding.requires_grad_(False)  # the source side of alignment never moves
        self.encoder = hf_model.encoder

    @property
    def kind(self) -> str:
        return self.spec.kind

    def train(self, mode: bool = True) -> "Backbone":
        """Train/eval the encoder; the source embedding stays in eval so `embed_source` is deterministic."""
        super().train(mode)
        self.source_embedding.eval()
        return self

    @property
    def max_tokens(self) -> int:
        return self.spec.max_tokens

    def body_parameters(self) -> list[nn.Parameter]:
        """Parameters the forward pass uses (everything but the source embedding)."""
        return [p for n, p in self.named_parameters() if not n.startswith("source_embedding.")]

    def layernorm_parameters(self) -> list[nn.Parameter]:
        """The body's LayerNorm weights and biases: what the FPT scope (Lu et al. 2021) trains."""
        return [p for n, m in self.named_modules() if isinstance(m, nn.LayerNorm)
                and not n.startswith("source_embedding") for p in m.parameters()]

    def output_grid(self, grid: tuple[int, ...]) -> tuple[int, ...]:
        """Token grid the body returns for an input token grid (text bodies keep it)."""
        return grid

    def _checked(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 3 or tokens.shape[-1] != self.embed_dim:
            raise BackboneError(f"backbone {self.spec.name!r} takes tokens (B, T, {self.embed_dim}), "
                                f"got {tuple(tokens.shape)}")
        return tokens

    def _measure_token_std(self, batch: Any) -> float:
        was_training = self.training
        self.eval()
        with torch.no_grad():
            std = self.embed_source(batch).std().item()
        self.train(was_training)
        return std


class TextBackbone(Backbone):
    """BERT / RoBERTa: the encoder stack; `embed_source` runs word + position embeddings + LayerNorm."""

    def __init__(self, spec: BackboneSpec, hf_model: nn.Module):
        super().__init__(spec, hf_model)
        family = FAMILIES[spec.family]
        self.position_offset = self.config.pad_token_id + 1 if family.pads_positions else 0
        self.embed_dim = self.hidden = self.config.hidden_size
        self._tokenizer = None
        vocab = self.config.vocab_size
        ids = torch.linspace(0, vocab - 1, 4 * 64).long().view(4, 64)  # (4, 64) spread over the vocabulary
        self.token_std: float = self._measure_token_std({"input_ids": ids})

    @property
    def embedding_norm(self) -> nn.LayerNorm:
        return self.source_embedding.LayerNorm

    @property
    def patch_projection(self) -> None:
        return None

    def position_table(self, num_tokens: int) -> torch.Tensor:
        """The body's learned positions for tokens 0..num_tokens-1: (num_tokens, embed_dim)."""
        start = self.position_offset
        return self.source_embedding.position_embeddings.weight[start:start + num_tokens]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(self._checked(tokens)).last_hidden_state  # (B, T, hidden)

    def tokenize(self, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
        """input_ids and attention_mask (B, T), padded to the longest text, at most max_length.

        Tiny test bodies reuse another backbone's tokenizer and fold its ids into their small
        vocabulary (id mod vocab_size): random weights have no use for real token identities.
        """
        batch = self.tokenizer(texts, max_length=min(max_length, self.max_tokens), truncation=True,
                               padding=True, return_tensors="pt")
        ids = batch["input_ids"] % self.config.vocab_size
        device = self._device()
        return {"input_ids": ids.to(device), "attention_mask": batch["attention_mask"].to(device)}

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer
            spec = BACKBONES.get(self.spec.tokenizer_from) if self.spec.tokenizer_from else self.spec
            self._tokenizer = load_from_source(spec, lambda **kw: AutoTokenizer.from_pretrained(spec.hub_id, **kw))
        return self._tokenizer

    def embed_source(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The body's own embedding of tokenised text: (B, T, embed_dim), as its encoder sees it."""
        return self.source_embedding(input_ids=batch["input_ids"].to(self._device()))

    def _device(self) -> torch.device:
        return self.source_embedding.word_embeddings.weight.device


class SwinBackbone(Backbone):
    """Swin: stages of windowed attention with patch merging, then the final LayerNorm.

    Takes a square token grid (B, g*g, embed_dim) and returns the last stage's grid
    (B, ceil(g / 2**(stages-1))**2, hidden).
    """

    def __init__(self, spec: BackboneSpec, hf_model: nn.Module):
        super().__init__(spec, hf_model)
        self.final_norm = hf_model.layernorm
        self.embed_dim = self.config.embed_dim
        self.hidden = hf_model.num_features
        self.image_size = self.config.image_size
        self.patch_size = self.config.patch_size
        generator = torch.Generator().manual_seed(0)
        images = torch.rand(2, 3, self.image_size, self.image_size, generator=generator)
        self.token_std: float = self._measure_token_std(images)

    @property
    def embedding_norm(self) -> nn.LayerNorm:
        return self.source_embedding.norm

    @property
    def patch_projection(self) -> nn.Conv2d:
        return self.source_embedding.patch_embeddings.projection

    def position_table(self, num_tokens: int) -> torch.Tensor | None:
        table = self.source_embedding.position_embeddings  # absolute positions: absent in the usual Swins
        return None if table is None else table[0, :num_tokens]

    def output_grid(self, grid: tuple[int, ...]) -> tuple[int, ...]:
        for _ in range(len(self.config.depths) - 1):  # each patch merging halves the grid, padding odd sides
            grid = tuple(math.ceil(g / 2) for g in grid)
        return grid

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        side = math.isqrt(self._checked(tokens).shape[1])
        if side * side != tokens.shape[1]:
            raise BackboneError(f"Swin takes a square grid of tokens, got {tokens.shape[1]} tokens")
        out = self.encoder(tokens, input_dimensions=(side, side)).last_hidden_state  # (B, T', hidden)
        return self.final_norm(out)

    def embed_source(self, images: torch.Tensor) -> torch.Tensor:
        """Patch embeddings (after their LayerNorm) of images (B, 3, H, W) in [0, 1]: (B, T, embed_dim).

        Images are resized to the pretraining size and normalised with ImageNet statistics, as Swin
        was pretrained; grey images are repeated to three channels.
        """
        images = images.to(self.patch_projection.weight.device, torch.float32)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)  # (B, 3, H, W)
        size = (self.image_size, self.image_size)
        if tuple(images.shape[-2:]) != size:
            images = nn.functional.interpolate(images, size=size, mode="bilinear", antialias=True,
                                               align_corners=False)
        mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        tokens, _ = self.source_embedding.patch_embeddings((images - mean) / std)  # (B, T, embed_dim)
        tokens = self.embedding_norm(tokens)
        table = self.position_table(tokens.shape[1])
        return tokens if table is None else tokens + table


BACKBONE_KINDS: dict[str, type[Backbone]] = {"text": TextBackbone, "vision": SwinBackbone}


# -- building from transformers ---------------------------------------------------------

@torch.no_grad()
def _fixed_weights(model: nn.Module, std: float, seed: int = 0) -> None:
    """A tiny test body's 'pretrained' weights: the transformers initialisation's distributions
    (matrices N(0, std²), norms 1, biases 0) drawn from a private generator, so the body is the
    same in every process and call whatever other threads draw from the global RNG meanwhile."""
    generator = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            p.copy_(torch.randn(p.shape, generator=generator) * std)
        elif "norm" in name.lower() and name.endswith("weight"):
            p.fill_(1.0)
        else:
            p.zero_()


@contextlib.contextmanager
def _quiet_transformers():
    """Hide transformers' load reports and progress bars (e.g. the unused pooler), then restore them."""
    from transformers.utils import logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _hf_model(spec: BackboneSpec, pretrained: bool) -> nn.Module:
    with _quiet_transformers():
        return _built_hf_model(spec, pretrained)


def _built_hf_model(spec: BackboneSpec, pretrained: bool) -> nn.Module:
    import transformers
    family = FAMILIES[spec.family]
    model_class = getattr(transformers, family.model_class)
    if spec.random_init_only:  # "pretrained" = fixed weights; False = whatever the caller seeded
        config = getattr(transformers, family.config_class)(**dict(spec.tiny_config))
        if not pretrained:
            return model_class(config, add_pooling_layer=False)
        with torch.random.fork_rng(devices=[]):  # the caller's RNG stream is left as it was, built or cached
            model = model_class(config, add_pooling_layer=False)
        _fixed_weights(model, getattr(config, "initializer_range", 0.02))
        return model
    if pretrained:
        return load_from_source(spec, lambda **kw: model_class.from_pretrained(spec.hub_id, add_pooling_layer=False,
                                                                               **kw))
    config = load_from_source(spec, lambda **kw: transformers.AutoConfig.from_pretrained(spec.hub_id, **kw))
    return model_class(config, add_pooling_layer=False)


def build_backbone(spec: BackboneSpec, *, pretrained: bool = True,
                   device: str | torch.device = "cpu") -> Backbone:
    """The body of `spec` built from transformers (see `backbones.load_backbone`), in eval mode."""
    body = BACKBONE_KINDS[spec.kind](spec, _hf_model(spec, pretrained))
    return body.to(device).eval()
