"""Backbones: registry records, the encoder-only forward, the source embedding, fast offline failure."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from model_cases import TEXT_TINY, TINY, VISION_TINY, shared_backbone
from orca_engine import backbones, hub
from orca_engine.backbones import BACKBONES, FAMILIES, backbone_status, load_backbone
from orca_engine.config import ModelConfig
from orca_engine.errors import BackboneError, ConfigError


def test_registry_holds_the_papers_bodies_and_complete_records():
    for name in ("minilm", "roberta-base", "swin-base", "distilroberta-base", "swin-tiny",
                 "tiny-bert", "tiny-roberta", "tiny-swin"):
        assert name in BACKBONES
    for name, spec in BACKBONES.items():
        assert spec.name == name and spec.family in FAMILIES and spec.kind in ("text", "vision")
        assert min(spec.embed_dim, spec.hidden, spec.max_tokens, spec.params) > 0
        assert spec.random_init_only <= spec.offline  # tiny bodies are always available
        assert (spec.image_size > 0) == (spec.kind == "vision")
    assert ModelConfig().backbone == "minilm"


@pytest.mark.parametrize("name", TINY)
def test_tiny_backbone_matches_its_record(name):
    body, spec = shared_backbone(name), BACKBONES.get(name)
    assert (body.embed_dim, body.hidden, body.max_tokens, body.kind) == (
        spec.embed_dim, spec.hidden, spec.max_tokens, spec.kind)
    assert 0.5 < sum(p.numel() for p in body.parameters()) / spec.params < 2


@pytest.mark.parametrize("name", TEXT_TINY)
def test_text_body_keeps_the_token_count(name):
    body = shared_backbone(name)
    assert body(torch.randn(2, 7, body.embed_dim)).shape == (2, 7, body.hidden)
    with pytest.raises(BackboneError, match="takes tokens"):
        body(torch.randn(2, 7, body.embed_dim + 1))


@pytest.mark.parametrize("name", VISION_TINY)
def test_swin_body_returns_its_final_stage_grid(name):
    body = shared_backbone(name)
    side = body.image_size // body.patch_size
    final = body.output_grid((side, side))
    assert final[0] < side
    assert body(torch.randn(2, side * side, body.embed_dim)).shape == (2, final[0] * final[1], body.hidden)
    with pytest.raises(BackboneError, match="square"):
        body(torch.randn(2, side * side - 1, body.embed_dim))


@pytest.mark.parametrize("name", TEXT_TINY)
def test_text_source_embedding_is_the_bodys_own_layer(name):
    body = shared_backbone(name)
    batch = body.tokenize(["a sentence about the sea", "short"], max_length=16)
    assert batch["input_ids"].shape == batch["attention_mask"].shape and batch["input_ids"].shape[1] <= 16
    assert int(batch["input_ids"].max()) < body.config.vocab_size
    tokens = body.embed_source(batch)
    assert tokens.shape == (*batch["input_ids"].shape, body.embed_dim)
    expected = body.embedding_norm(body.source_embedding.word_embeddings(batch["input_ids"])
                                   + body.source_embedding.token_type_embeddings.weight[0]
                                   + body.source_embedding.position_embeddings(
                                       torch.arange(tokens.shape[1]) + body.position_offset))
    torch.testing.assert_close(tokens, expected)


@pytest.mark.parametrize("name", VISION_TINY)
def test_vision_source_embedding_is_deterministic_patch_tokens(name):
    body = load_backbone(name)
    images = torch.rand(2, 3, 20, 20)
    body.train()  # the source embedding must stay in eval (no dropout) whatever the body's mode
    first, second = body.embed_source(images), body.embed_source(images)
    assert first.shape == (2, (body.image_size // body.patch_size) ** 2, body.embed_dim)
    torch.testing.assert_close(first, second)
    assert body.embed_source(images[:, :1]).shape == first.shape  # grey images are repeated to RGB


@pytest.mark.parametrize("name", TINY)
def test_tiny_pretrained_is_reproducible_and_random_init_differs(name):
    torch.manual_seed(1)
    a, b, rand = load_backbone(name), load_backbone(name), load_backbone(name, pretrained=False)
    w = lambda m: torch.cat([p.flatten() for p in m.body_parameters()])  # noqa: E731
    torch.testing.assert_close(w(a), w(b))
    assert not torch.allclose(w(a), w(rand))
    assert all(not p.requires_grad for p in a.source_embedding.parameters())
    assert 0.2 < a.token_std < 5


def test_minilm_loads_real_weights_and_random_init_differs():
    body, rand = load_backbone("minilm"), load_backbone("minilm", pretrained=False)
    assert body.embed_dim == 384 and body.max_tokens == 512
    params = sum(p.numel() for p in body.parameters())
    assert abs(params - BACKBONES.get("minilm").params) / params < 0.05
    batch = body.tokenize(["hello world"], max_length=8)
    assert batch["input_ids"][0, 0] == body.tokenizer.cls_token_id
    assert body(body.embed_source(batch)).shape == (1, batch["input_ids"].shape[1], 384)
    assert not torch.equal(body.encoder.layer[0].attention.self.query.weight,
                           rand.encoder.layer[0].attention.self.query.weight)
    assert 0.1 < body.token_std < 2 and abs(rand.token_std - 1) < 0.1  # random LayerNorm: unit gain


def test_unknown_backbone_lists_the_names():
    with pytest.raises(ConfigError, match="minilm.*tiny-bert"):
        load_backbone("no-such-body")
    with pytest.raises(ConfigError, match="minilm"):
        ModelConfig(backbone="no-such-body")


def test_hub_backbone_fails_fast_offline_and_names_offline_choices(monkeypatch):
    if backbone_status("roberta-base")[0] and "cache" in backbone_status("roberta-base")[1]:
        pytest.skip("roberta-base is in the local cache here")
    from huggingface_hub import constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)  # restored after the test
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(BackboneError, match="minilm") as error:
        load_backbone("roberta-base")
    assert time.perf_counter() - start < 3
    assert "roberta-base" in str(error.value)
    available, reason = backbone_status("roberta-base")
    assert not available and "minilm" in reason
    assert backbone_status("tiny-bert")[0] and backbone_status("minilm")[0] == BACKBONES.get("minilm").offline


def test_hub_probe_rejects_an_endpoint_that_accepts_tcp_but_is_not_the_hub(monkeypatch):
    """Like an intercepting proxy: a local server that accepts connections but never speaks TLS."""
    import socket
    from huggingface_hub import constants
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    monkeypatch.setattr(constants, "ENDPOINT", f"https://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    hub._probe_hub.cache_clear()
    start = time.perf_counter()
    try:
        assert hub._probe_hub(timeout=0.5) is False
    finally:
        hub._probe_hub.cache_clear()
        server.close()
    assert time.perf_counter() - start < 1.5


def test_importing_the_model_modules_keeps_transformers_models_lazy():
    code = ("import sys, orca_engine.model\n"
            "print(sorted(m for m in sys.modules if m.startswith('transformers.models.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
