"""Source features: a proxy's labelled samples through the body's own embedding layer, mean-pooled.

ORCA's alignment compares embedded target inputs with how the pretrained body embeds its *own*
modality. Those source features never change during a run, so they are computed once under
`torch.no_grad()` in eval mode and cached on disk as .npz (no pickle) per (backbone, pretrained
flag, proxy, n, seed, weight fingerprint).
"""
from __future__ import annotations

import hashlib
import numbers
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackboneError, ConfigError
from .proxies import AUTO, cifar10_blocker, default_proxy, proxy_for

TEXT_MAX_LENGTH = 128  # WordNet glosses average ~12 words; longer ones are rare and truncated
CACHE_FORMAT = 1  # bump when the feature recipe changes, so stale caches are not reused


def source_features(backbone: Any, proxy: str, n: int, seed: int = 0, cache_dir: str | Path | None = None,
                    batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Mean-pooled source-proxy features from the body's own embedding layer, cached on disk.

    backbone: has .spec.name, .kind ("text"|"vision"), .embed_dim, .pretrained (default True),
        .tokenize(texts, max_length) -> {"input_ids", "attention_mask"} (text), and
        .embed_source(batch) -> (B, T, embed_dim).
    proxy: a name in SOURCE_PROXIES or "auto" (see `default_proxy`).
    Returns (features (n, embed_dim) float32, labels (n,) int64, info) where info holds "proxy", "n",
    "classes", "class_counts", "cached", "seconds" and, for the run record, how "auto" was resolved.
    """
    started = time.perf_counter()
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ConfigError(f"align.source_samples = {n!r} is not allowed; use a whole number >= 1")
    n, seed = int(n), int(seed)
    if batch_size < 1:
        raise ConfigError(f"batch_size = {batch_size!r} is not allowed; use a whole number >= 1")
    name, note = _resolved_proxy(backbone.kind, proxy)
    spec = proxy_for(backbone.kind, name)
    path = _cache_path(cache_dir, backbone, name, n, seed)
    cached = _load_cache(path, n)
    cache_error = None
    if cached is None:
        samples, labels, classes = spec.load(n, seed)
        features = _pooled_features(backbone, samples, batch_size)
        cache_error = _save_cache(path, features, labels, classes)
    else:
        features, labels, classes = cached
    info = _info(spec, proxy, n, classes, labels, cached is not None, time.perf_counter() - started)
    info.update(backbone=_backbone_name(backbone), pretrained=_pretrained(backbone), cache_path=str(path))
    if note:
        info["note"] = note
    if cache_error:
        info["cache_error"] = cache_error
    return features, labels, info


def _resolved_proxy(kind: str, proxy: str) -> tuple[str, str]:
    """(proxy name, note for the run record); 'auto' probes the hub only for vision bodies."""
    if proxy != AUTO:
        return proxy, ""
    blocker = cifar10_blocker() if kind == "vision" else ""
    name = default_proxy(kind, offline=bool(blocker))
    if blocker:
        return name, (f"auto chose {name!r} because {blocker}: procedural textures stand in for "
                      "CIFAR-10, not natural images")
    return name, f"auto chose {name!r} for a {kind} body"


def _info(spec, requested: str, n: int, classes, labels: np.ndarray, cached: bool, seconds: float) -> dict:
    counts = np.bincount(labels, minlength=len(classes))
    return {"proxy": spec.name, "requested_proxy": requested, "n": int(n), "classes": list(classes),
            "class_counts": {c: int(k) for c, k in zip(classes, counts)}, "cached": cached,
            "seconds": round(seconds, 4), "description": spec.description, "offline": spec.offline}


# -- feature extraction -------------------------------------------------------------------------

def _pooled_features(backbone: Any, samples: Any, batch_size: int) -> np.ndarray:
    """(n, embed_dim) float32: the body's own embedding of each sample, mean-pooled over tokens."""
    import torch

    was_training = getattr(backbone, "training", False)
    if hasattr(backbone, "eval"):
        backbone.eval()  # dropout in the embedding layer would make features random
    try:
        with torch.no_grad():
            pooled = (_text_features(backbone, samples, batch_size) if backbone.kind == "text"
                      else _vision_features(backbone, samples, batch_size))
    finally:
        if was_training:
            backbone.train()
    return _checked_features(backbone, pooled)


def _text_features(backbone: Any, texts: list[str], batch_size: int):
    import torch

    max_length = min(TEXT_MAX_LENGTH, int(getattr(backbone, "max_tokens", TEXT_MAX_LENGTH) or TEXT_MAX_LENGTH))
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths -> less padding per batch
    device = _device_of(backbone)
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = backbone.tokenize([texts[i] for i in order[start:start + batch_size]], max_length=max_length)
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
        tokens = backbone.embed_source(batch)  # (B, T, D)
        chunks.append(_masked_mean(tokens, batch["attention_mask"]).float().cpu())
    pooled = torch.cat(chunks)  # (n, D) in length order
    return pooled[torch.from_numpy(np.argsort(order))]  # back to sample order


def _masked_mean(tokens, mask):
    """Mean over non-padding tokens: tokens (B, T, D), mask (B, T) of 0/1 -> (B, D)."""
    if mask.shape != tokens.shape[:2]:
        raise BackboneError(f"embed_source returned {tuple(tokens.shape)} tokens but the attention mask is "
                            f"{tuple(mask.shape)}; the embedding layer must keep one vector per input token")
    weights = mask.to(tokens.dtype).unsqueeze(-1)  # (B, T, 1)
    return (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def _vision_features(backbone: Any, images: np.ndarray, batch_size: int):
    import torch

    device = _device_of(backbone)
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device)  # (B, 3, H, W)
        tokens = backbone.embed_source(batch)  # (B, T, D)
        chunks.append(tokens.mean(1).float().cpu())
    return torch.cat(chunks)


def _checked_features(backbone: Any, pooled) -> np.ndarray:
    features = pooled.numpy().astype(np.float32, copy=False)
    if features.ndim != 2 or features.shape[1] != backbone.embed_dim:
        raise BackboneError(f"embed_source gave pooled features of shape {features.shape}; expected "
                            f"(n, {backbone.embed_dim}) for backbone {_backbone_name(backbone)!r}")
    if not np.isfinite(features).all():
        raise BackboneError(f"the embedding layer of {_backbone_name(backbone)!r} produced NaN/inf source "
                            f"features; reload the backbone (its weights may be corrupt)")
    return features


def _device_of(backbone: Any):
    import torch

    params = getattr(backbone, "parameters", None)
    first = next(iter(params()), None) if params else None
    return first.device if first is not None else torch.device("cpu")


# -- the on-disk cache ----------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """$ORCA_CACHE_DIR/sources, else ~/.cache/orca_explorer/sources."""
    root = os.environ.get("ORCA_CACHE_DIR")
    return Path(root) / "sources" if root else Path.home() / ".cache" / "orca_explorer" / "sources"


def _cache_path(cache_dir: str | Path | None, backbone: Any, proxy: str, n: int, seed: int) -> Path:
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    weights = "pretrained" if _pretrained(backbone) else "random"
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", _backbone_name(backbone))
    stem = f"{safe_name}-{weights}-{proxy}-n{n}-s{seed}-{_fingerprint(backbone)}"
    return folder / f"{stem}.npz"


def _fingerprint(backbone: Any) -> str:
    """A short hash of strided samples of every weight (plus the feature recipe version).

    It keeps two bodies with the same name apart, e.g. random inits from different seeds or a body
    that was fine-tuned in place, at the cost of touching only ~64 values per tensor.
    """
    digest = hashlib.sha1(f"v{CACHE_FORMAT}-L{TEXT_MAX_LENGTH}".encode())
    named = getattr(backbone, "named_parameters", None)
    for pname, param in (sorted(named(), key=lambda item: item[0]) if named else ()):
        flat = param.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 64)][:64].float().cpu().numpy()
        digest.update(pname.encode())
        digest.update(str(tuple(param.shape)).encode())
        digest.update(sample.tobytes())
    return digest.hexdigest()[:12]


def _load_cache(path: Path, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    """The cached (features, labels, classes), or None when absent or unreadable (then recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            features, labels = stored["features"], stored["labels"]
            classes = tuple(str(c) for c in stored["classes"])
    except (OSError, ValueError, KeyError, EOFError):  # truncated or foreign file: just recompute
        return None
    if features.shape[0] != n or labels.shape != (n,):
        return None
    return features.astype(np.float32, copy=False), labels.astype(np.int64, copy=False), classes


def _save_cache(path: Path, features: np.ndarray, labels: np.ndarray, classes) -> str | None:
    """Write atomically (temp file + os.replace); returns an error text instead of failing the run."""
    tmp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        tmp_path = Path(tmp_name)
        with os.fdopen(handle, "wb") as tmp:
            np.savez(tmp, features=features, labels=labels, classes=np.asarray(classes, dtype=str))
        os.replace(tmp_path, path)  # readers see the old file or the whole new one, never half
    except OSError as e:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        return f"could not cache source features in {path.parent}: {e.strerror or e}"
    return None


def _backbone_name(backbone: Any) -> str:
    spec = getattr(backbone, "spec", None)
    return str(getattr(spec, "name", None) or type(backbone).__name__)


def _pretrained(backbone: Any) -> bool:
    return bool(getattr(backbone, "pretrained", True))
