"""Alignment objectives: how far the embedded target is from the source, as a differentiable loss.

    from orca_engine.alignment import make_objective
    objective = make_objective("otdd-exact", source_features, source_labels)   # once per run
    loss = objective(target_features, target_labels)                           # every step
    heatmap = objective.class_distances(target_features, target_labels)        # (C_t, C_s)

`OBJECTIVES` lists the names (what `align.objective` may be); `pseudo_labels` turns regression,
dense or multi-label targets into k-means classes. See base.py for the full contract.

Importing this package is torch-free (the registry lives in `names`); torch comes with the first
objective built, or with `Objective`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .names import OBJECTIVES, ObjectiveSpec
from .pseudo_labels import pseudo_labels

if TYPE_CHECKING:
    from .base import Objective


def make_objective(name: str, source_features: Any, source_labels: Any, **options: Any) -> Objective:
    """Build the objective `name` on a labelled source (n_s, d), (n_s,); source terms are cached now."""
    spec = OBJECTIVES.get(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ConfigError(f"objective {name!r} has no option {', '.join(unknown)}; allowed: {allowed}")
    return spec.cls(source_features, source_labels, **options)


def __getattr__(name: str) -> Any:
    """`Objective` is imported on first use: it brings torch."""
    if name == "Objective":
        from .base import Objective
        return Objective
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["make_objective", "OBJECTIVES", "ObjectiveSpec", "Objective", "pseudo_labels"]
