"""Stage 0: load the data, the backbone and the source proxy features; build the model."""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch

from ..contracts import BuildInfo, SourceFeatures
from ..events import Event, StageFinished, StageStarted, WarningRaised
from ..hardware import resolve_device, resolve_precision
from .context import RunContext

if TYPE_CHECKING:
    from ..data import Dataset


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def alignment_labels(dataset, k: int, seed: int) -> np.ndarray:
    """Class ids for classification; k-means pseudo-labels of the targets otherwise (ORCA.md)."""
    if dataset.task == "classification":
        return np.asarray(dataset.y_train, dtype=np.int64)
    from ..alignment import pseudo_labels
    return np.asarray(pseudo_labels(dataset.y_train, k=k, seed=seed), dtype=np.int64)


def run_model(cfg, ds, device):
    """A fresh model for dataset `ds` under run config `cfg` (the tune stage builds one per trial)."""
    from ..model import build_model
    return build_model(modality=ds.modality, task=ds.task, input_shape=tuple(ds.input_shape),
                       output_shape=tuple(ds.output_shape), num_outputs=ds.num_outputs,
                       backbone_name=cfg.model.backbone, model_cfg=cfg.model, pretrained=cfg.model.pretrained,
                       device=device)


def build_info(ds: Dataset) -> BuildInfo:
    """What rebuilds and reads the model later: shapes, task, class names, target scaling, data spec."""
    from ..data import target_stats
    stats = target_stats(ds.spec)
    mean, std = (stats[0].tolist(), stats[1].tolist()) if stats is not None else (0.0, 1.0)
    return BuildInfo(modality=ds.modality, task=ds.task, input_shape=tuple(ds.input_shape),
                     output_shape=tuple(ds.output_shape), num_outputs=ds.num_outputs,
                     class_names=tuple(ds.class_names or ()), target_mean=mean, target_std=std, data_spec=ds.spec)


def prepare(ctx: RunContext) -> Iterator[Event]:
    from ..data import load_dataset
    from ..sources import source_features

    cfg = ctx.config
    yield StageStarted("prepare", total_steps=3)
    seed_everything(cfg.seed)
    ctx.device = resolve_device(cfg.device)
    precision, precision_note = resolve_precision(cfg.precision, ctx.device)
    if precision_note and cfg.precision == "bf16":
        yield WarningRaised("prepare", precision_note)

    ds = load_dataset(cfg.data, seed=cfg.seed)
    ctx.dataset = ds
    ctx.control.check_cancelled()  # a pause holds at alignment's first step, where it shows

    # A model placed in the context beforehand is used as is: a comparison grid restores shared
    # weights into one model instead of reloading the backbone for every variant.
    model = ctx.model if ctx.model is not None else run_model(cfg, ds, ctx.device)
    ctx.model = model
    ctx.build_info = build_info(ds)
    ctx.control.check_cancelled()  # a pause holds at alignment's first step, where it shows

    feats, labels, info = source_features(model.backbone, cfg.align.source_proxy, cfg.align.source_samples,
                                          seed=cfg.seed, cache_dir=ctx.cache_dir)
    ctx.source = SourceFeatures(torch.as_tensor(feats, dtype=torch.float32, device=ctx.device),
                                torch.as_tensor(labels, dtype=torch.long, device=ctx.device), info)
    ctx.target_labels = alignment_labels(ds, cfg.align.pseudo_label_k, cfg.seed)

    ctx.metrics["data"] = ds.report
    ctx.metrics["source_proxy"] = {k: v for k, v in info.items() if k in ("proxy", "requested_proxy", "n", "classes", "cached", "note")}
    ctx.metrics["model"] = {"backbone": cfg.model.backbone, "pretrained": cfg.model.pretrained,
                            "parameters": int(sum(p.numel() for p in model.parameters())),
                            "tokens": int(getattr(model.embedder, "num_tokens", 0)),
                            "device": str(ctx.device), "precision": precision,
                            **({"precision_note": precision_note} if precision_note else {})}
    yield StageFinished("prepare", metrics={"dataset": ds.report, "source_proxy": ctx.metrics["source_proxy"],
                                            "model": ctx.metrics["model"]})
