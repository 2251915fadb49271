"""The registry of source proxies: labelled data of a body's own modality, by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..registry import Registry
from .cifar10 import cifar10_images, cifar10_readable
from ..hub import hub_reachable
from .synthetic_images import synthetic_images
from .wordnet import wordnet_sentences

# load(n, seed) -> (samples, labels (n,) int64, class names). Samples are a list of str for text
# proxies and float32 (n, 3, H, W) images in [0, 1] for vision proxies.
Loader = Callable[[int, int], tuple[Any, np.ndarray, tuple[str, ...]]]


@dataclass(frozen=True)
class ProxySpec:
    name: str
    kind: str  # "text" | "vision": the body modality it feeds
    description: str
    offline: bool  # usable without network access
    load: Loader


SOURCE_PROXIES: Registry[ProxySpec] = Registry("source proxy")
for _spec in (
    ProxySpec("wordnet", "text", "WordNet definitions labelled by lexicographer class (10 largest classes); "
              "offline via Debian's wordnet-base", True, wordnet_sentences),
    ProxySpec("cifar10", "vision", "CIFAR-10 natural images, 10 classes, from the Hugging Face hub "
              "(uoft-cs/cifar10); ORCA's own vision proxy", False, cifar10_images),
    ProxySpec("synthetic-images", "vision", "procedural textures and shapes in 10 classes (32x32 RGB); an offline "
              "stand-in for CIFAR-10, not natural images", True, synthetic_images),
):
    SOURCE_PROXIES.register(_spec.name, _spec)

AUTO = "auto"


def proxy_choices() -> tuple[str, ...]:
    """Values `align.source_proxy` accepts: 'auto' and every registered proxy."""
    return (AUTO, *SOURCE_PROXIES.names())


def default_proxy(backbone_kind: str, offline: bool | None = None) -> str:
    """What 'auto' means: wordnet for text bodies; cifar10 for vision ones, synthetic-images offline.

    offline=None checks here and now (hub probe, pyarrow) whether CIFAR-10 can be had.
    """
    if backbone_kind == "text":
        return "wordnet"
    if backbone_kind == "vision":
        if offline is None:
            offline = bool(cifar10_blocker())
        return "synthetic-images" if offline else "cifar10"
    raise ConfigError(f"backbone kind {backbone_kind!r} has no source proxy; expected 'text' or 'vision'")


def cifar10_blocker() -> str:
    """Why CIFAR-10 cannot be used here, or '' when it can."""
    if not hub_reachable():
        return "the Hugging Face hub is unreachable"
    if not cifar10_readable():
        return "pyarrow, needed to read CIFAR-10, is not installed (`pip install pyarrow`)"
    return ""


def proxy_for(backbone_kind: str, proxy: str) -> ProxySpec:
    """The spec of `proxy` after checking it feeds a body of `backbone_kind`."""
    spec = SOURCE_PROXIES.get(proxy)
    if spec.kind != backbone_kind:
        fitting = [name for name, s in SOURCE_PROXIES.items() if s.kind == backbone_kind]
        raise ConfigError(f"align.source_proxy = {proxy!r} holds {spec.kind} data but the backbone is a "
                          f"{backbone_kind} body; choose one of: {', '.join([AUTO, *fitting])}")
    return spec
