"""What the runs of a comparison grid share, so a grid costs little more than its refinements.

- `ModelPool`: one model per body (the pretrained body once per grid; a random body once per seed).
  Its weights are snapshotted on CPU after loading and restored before every run, and each seed's
  embedder and head initialisations are drawn once and restored, so every variant of one seed
  starts from exactly the same weights (paired comparisons) without reloading the backbone.
- `AlignmentCache`: the aligned embedder of every distinct alignment (same data, model, alignment
  settings and seed), reused by every variant that starts from it (e.g. the refine scopes).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch

from ..config import RunConfig
from ..model import ModelShapes, OrcaModel, build_model


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's weights, safe from later in-place training."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def body_key(config: RunConfig) -> tuple:
    """Runs with the same key share one body: the pretrained weights, or one random draw per seed."""
    return ("pretrained",) if config.model.pretrained else ("random", config.seed)


class ModelPool:
    """Models built once and reset to a run's starting weights on request (see module docstring)."""

    def __init__(self, shapes: ModelShapes, device: torch.device):
        self.shapes, self.device = shapes, device
        self._bodies: dict[tuple, tuple[OrcaModel, dict]] = {}
        self._starts: dict[tuple, tuple[dict, dict]] = {}
        self.loads = 0  # how many times a body was built (the grid's sharing is tested on it)

    def model_for(self, config: RunConfig) -> OrcaModel:
        """The shared model, reset to the body snapshot and to this seed's embedder and head init."""
        model, body_state = self._body(config)
        model.backbone.load_state_dict(body_state)
        embedder_state, head_state = self._start(config, model)
        model.embedder.load_state_dict(embedder_state)
        model.head.load_state_dict(head_state)
        for p in model.parameters():
            p.requires_grad_(True)
        return model.eval()

    def _body(self, config: RunConfig) -> tuple[OrcaModel, dict]:
        key = body_key(config)
        if key not in self._bodies:
            for stale in [k for k in self._bodies if k[0] == "random"]:  # one random body at a time
                del self._bodies[stale]
            torch.manual_seed(config.seed)
            model = build_model(self.shapes.to_dict(), model_cfg=config.model, device=self.device)
            self._bodies[key] = (model, cpu_state(model.backbone))
            self.loads += 1
        return self._bodies[key]

    def _start(self, config: RunConfig, model: OrcaModel) -> tuple[dict, dict]:
        """This seed's embedder (per init) and head weights: drawn once, identical across variants."""
        from ..embedders import build_embedder
        from ..heads import build_head
        key = (body_key(config), config.seed, config.model.embedder_init)
        if key not in self._starts:
            torch.manual_seed(config.seed)
            embedder = build_embedder(self.shapes.input_shape, self.shapes.modality, model.backbone, config.model)
            torch.manual_seed(config.seed)  # the same head whatever the embedder init consumed
            head = build_head(self.shapes.task, self.shapes.num_outputs, self.shapes.output_shape, model.backbone,
                              embedder)
            self._starts[key] = (cpu_state(embedder), cpu_state(head))
        return self._starts[key]


@dataclass(frozen=True)
class Alignment:
    """An aligned embedder and the record of the run that produced it."""
    embedder_state: dict
    metrics: dict  # the align stage's metrics (objective and otdd before/after)
    run: str  # the run folder that computed it
    seconds: float  # what the alignment cost when it was computed


def alignment_key(config: RunConfig) -> str:
    """Everything that decides the aligned embedder: data (incl. fraction), model, alignment, seed."""
    return json.dumps({"data": config.data.to_dict(), "model": config.model.to_dict(),
                       "align": config.align.to_dict(), "seed": config.seed, "device": config.device},
                      sort_keys=True)


class AlignmentCache:
    """Aligned embedders by `alignment_key`; `clear()` between groups of runs keeps memory flat."""

    def __init__(self) -> None:
        self._items: dict[str, Alignment] = {}
        self.hits = 0

    def get(self, config: RunConfig) -> Alignment | None:
        found = self._items.get(alignment_key(config))
        self.hits += found is not None
        return found

    def put(self, config: RunConfig, model: OrcaModel, metrics: dict[str, Any], run: str, seconds: float) -> None:
        self._items[alignment_key(config)] = Alignment(cpu_state(model.embedder), dict(metrics), run, seconds)

    def clear(self) -> None:
        self._items.clear()
