"""The assembled ORCA model: x -> embedder f_t -> body g_s -> predictor h_t -> y.

    model = build_model(dataset, model_cfg=cfg.model)           # any object/dict with the shapes below
    model.embed(x)                       # (B, T, D) tokens: mean over T gives alignment's target features
    model.trainable_parameters("layernorm")                     # the refine scope's parameters

A saved run is rebuilt from `ModelShapes.to_dict()` + its config (pretrained=False skips the weight
download), then `load_state_dict` from its safetensors file.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .backbones import load_backbone
from .bodies import Backbone
from .config import ModelConfig
from .embedders import Embedder, build_embedder
from .errors import ConfigError
from .heads import build_head


class OrcaModel(nn.Module):
    """Embedder, pretrained body and predictor head, trained together in the refine stage."""

    def __init__(self, embedder: Embedder, backbone: Backbone, head: nn.Module):
        super().__init__()
        self.embedder, self.backbone, self.head = embedder, backbone, head
        # test-time augmentation (refine.tta): in eval mode, outputs are averaged over the input and
        # copies shifted by this share of each time / image axis; 0 = off. Refinement sets it, and a
        # saved run restores it from model.json (BuildInfo.test_time_shift), so validation, test and
        # every later prediction see the same model.
        self.test_time_shift = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.test_time_shift or x.dim() not in (3, 4):
            return self.head(self.backbone(self.embedder(x)))
        views = shifted_views(x, self.test_time_shift)  # (V*B, ...) the input first, then its shifted copies
        out = self.head(self.backbone(self.embedder(views)))
        return out.view(-1, *x.shape[:1], *out.shape[1:]).mean(dim=0)  # (B, ...)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The embedder's tokens (B, T, D): what alignment moves towards the source distribution."""
        return self.embedder(x)

    def trainable_parameters(self, scope: str = "full") -> list[nn.Parameter]:
        """Parameters a refine `scope` trains (the body's frozen source embedding is never among them).

        full: everything. layernorm: embedder + head + the body's LayerNorms (FPT, Lu et al. 2021).
        frozen-body: embedder + head.
        """
        if scope not in SCOPES:
            raise ConfigError(f"refine.scope = {scope!r} is not allowed; choose one of: {', '.join(SCOPES)}")
        return [*self.embedder.parameters(), *self.head.parameters(), *SCOPES[scope](self.backbone)]

    def parameter_groups(self, scope: str = "full", weight_decay: float = 0.0, lr: float | None = None,
                         new_layers_scale: float = 1.0) -> list[dict[str, Any]]:
        """The one training-parameter policy: optimizer groups of the parameters `scope` trains.

        Rates: the pretrained body at `lr`; the new layers (embedder, head), which start far from
        any optimum, at `lr * new_layers_scale` (1 reproduces ORCA's single rate). Decay: weight
        matrices only; biases, norms and position vectors are not decayed. Groups carry
        `new_layers` (bool) so a schedule or a report can tell them apart.
        """
        params = self.trainable_parameters(scope)
        new = {id(p) for module in (self.embedder, self.head) for p in module.parameters()}
        groups = []
        for is_new in (False, True):
            for decays in (True, False):
                members = [p for p in params if (id(p) in new) == is_new and _is_decayed(p) == decays]
                if not members:
                    continue
                group: dict[str, Any] = {"params": members, "weight_decay": weight_decay if decays else 0.0,
                                         "new_layers": is_new}
                if lr is not None:
                    group["lr"] = lr * (new_layers_scale if is_new else 1.0)
                groups.append(group)
        return groups

    def set_trainable(self, scope: str = "full") -> None:
        """requires_grad on exactly the parameters of `scope`, off everywhere else."""
        chosen = {id(p) for p in self.trainable_parameters(scope)}
        for p in self.parameters():
            p.requires_grad_(id(p) in chosen)


class OrcaEnsemble(nn.Module):
    """Several OrcaModels of one run (refine.members), trained from the same aligned start with
    different seeds, predicting as one: the mean of their probabilities, returned as logits so
    everything downstream reads it like a single model's output. Classification: log of the mean
    softmax; multi-label: logit of the mean sigmoid; regression and dense tasks: the mean output.
    Built at the end of refinement, so nothing after it reads an embedder or head of its own."""

    def __init__(self, members: list[OrcaModel], task: str):
        super().__init__()
        self.members, self.task = nn.ModuleList(members), task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = torch.stack([member(x).float() for member in self.members])  # (M, B, ...)
        if self.task == "classification":
            return torch.logsumexp(torch.log_softmax(outs, dim=-1), dim=0) - math.log(len(self.members))
        if self.task == "multilabel":
            p = torch.sigmoid(outs).mean(dim=0).clamp(1e-7, 1 - 1e-7)
            return torch.log(p) - torch.log1p(-p)
        return outs.mean(dim=0)

    @property
    def test_time_shift(self) -> float:
        return self.members[0].test_time_shift

    @test_time_shift.setter
    def test_time_shift(self, share: float) -> None:
        for member in self.members:
            member.test_time_shift = share


def shifted_views(x: torch.Tensor, share: float) -> torch.Tensor:
    """(B, C, *grid) -> (V*B, C, *grid): `x`, then `x` moved by +-round(share * n) positions along each
    grid axis (the time axis of a sequence, both axes of an image), edges repeated. An axis too short
    to move by one position adds no copies."""
    views = [x]
    for dim in range(2, x.dim()):
        size = x.shape[dim]
        offset = round(size * share)
        if offset < 1:
            continue
        for moved in (offset, -offset):
            index = (torch.arange(size, device=x.device) - moved).clamp_(0, size - 1)
            views.append(x.index_select(dim, index))
    return torch.cat(views)


def _is_decayed(p: nn.Parameter) -> bool:
    """Weight decay suits weight matrices, not biases, norm scales or single vectors."""
    return p.dim() >= 2 and p.shape[0] > 1


SCOPES: dict[str, Callable[[Backbone], list[nn.Parameter]]] = {
    "full": lambda body: body.body_parameters(),
    "layernorm": lambda body: body.layernorm_parameters(),
    "frozen-body": lambda body: [],
}


@dataclass(frozen=True)
class ModelShapes:
    """What a model is built for: enough, with the ModelConfig, to rebuild a saved one."""

    modality: str
    task: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    num_outputs: int

    @classmethod
    def of(cls, info: Any) -> "ModelShapes":
        """From a Dataset, another ModelShapes, or a mapping with the same five names."""
        get = info.get if isinstance(info, Mapping) else lambda name: getattr(info, name)
        return cls(str(get("modality")), str(get("task")), tuple(int(n) for n in get("input_shape")),
                   tuple(int(n) for n in get("output_shape")), int(get("num_outputs")))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(info: Any = None, backbone_name: str | None = None, model_cfg: ModelConfig | None = None, *,
                modality: str | None = None, task: str | None = None, input_shape: tuple[int, ...] | None = None,
                output_shape: tuple[int, ...] | None = None, num_outputs: int | None = None,
                pretrained: bool | None = None, device: str | torch.device = "cpu",
                members: int = 1) -> OrcaModel | OrcaEnsemble:
    """An OrcaModel, in eval mode, for `info` (see ModelShapes.of) or the five shape keywords; an
    OrcaEnsemble of `members` of them when a saved run averaged several (BuildInfo.members).

    backbone_name and pretrained default to `model_cfg`'s (itself defaulting to ModelConfig()).
    """
    fields = dict(modality=modality, task=task, input_shape=input_shape, output_shape=output_shape,
                  num_outputs=num_outputs)
    given = [name for name, value in fields.items() if value is not None]
    if (info is None) == (len(given) == 0) or (info is None and len(given) < len(fields)):
        raise ConfigError("build_model needs either `info` (a dataset or mapping with modality, task, input_shape, "
                          f"output_shape, num_outputs) or all five as keywords; got info={info is not None}, "
                          f"keywords={given}")
    shapes = ModelShapes.of(fields if info is None else info)
    model_cfg = model_cfg or ModelConfig()

    def one() -> OrcaModel:
        backbone = load_backbone(backbone_name or model_cfg.backbone,
                                 pretrained=model_cfg.pretrained if pretrained is None else pretrained, device=device)
        embedder = build_embedder(shapes.input_shape, shapes.modality, backbone, model_cfg)
        head = build_head(shapes.task, shapes.num_outputs, shapes.output_shape, backbone, embedder)
        return OrcaModel(embedder, backbone, head).to(device).eval()
    if members > 1:
        return OrcaEnsemble([one() for _ in range(members)], shapes.task).to(device).eval()
    return one()
