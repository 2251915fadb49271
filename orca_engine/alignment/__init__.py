"""Alignment objectives: how far the embedded target is from the source, as a differentiable loss.

    from orca_engine.alignment import make_objective
    objective = make_objective("otdd-exact", source_features, source_labels)   # once per run
    loss = objective(target_features, target_labels)                           # every step
    heatmap = objective.class_distances(target_features, target_labels)        # (C_t, C_s)

`OBJECTIVES` lists the names (what `align.objective` may be); `pseudo_labels` turns regression,
dense or multi-label targets into k-means classes. See base.py for the full contract.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..registry import Registry
from .base import Objective
from .kernels import MMD, MeanDistance, NoAlignment
from .otdd import ExactOTDD, GaussianOTDD
from .pseudo_labels import pseudo_labels


@dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective: its class (built as cls(source_features, source_labels, **options))."""
    name: str
    cls: type[Objective]
    description: str
    options: tuple[str, ...]


OBJECTIVES: Registry[ObjectiveSpec] = Registry("alignment objective")
for _spec in (
    ObjectiveSpec("otdd-exact", ExactOTDD, "OTDD with entropic label distances (ORCA's default)",
                  ("epsilon", "scaling")),
    ObjectiveSpec("otdd-gaussian", GaussianOTDD, "OTDD with classes as Gaussians (Bures-Wasserstein labels)",
                  ("epsilon", "scaling")),
    ObjectiveSpec("mmd", MMD, "multi-bandwidth Gaussian-kernel MMD², per target class",
                  ("kernel_mul", "kernel_num", "max_source_samples", "seed")),
    ObjectiveSpec("l2", MeanDistance, "mean distance between source and target samples", ()),
    ObjectiveSpec("none", NoAlignment, "zero: the no-alignment ablation", ()),
):
    OBJECTIVES.register(_spec.name, _spec)


def make_objective(name: str, source_features: Any, source_labels: Any, **options: Any) -> Objective:
    """Build the objective `name` on a labelled source (n_s, d), (n_s,); source terms are cached now."""
    from ..errors import ConfigError
    spec = OBJECTIVES.get(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ConfigError(f"objective {name!r} has no option {', '.join(unknown)}; allowed: {allowed}")
    return spec.cls(source_features, source_labels, **options)


__all__ = ["make_objective", "OBJECTIVES", "ObjectiveSpec", "Objective", "pseudo_labels"]
