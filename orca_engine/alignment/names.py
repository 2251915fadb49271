"""The objectives' registry: names, descriptions, options, and where each class lives.

Torch-free on purpose: config validation lists `align.objective` choices from `OBJECTIVES`, and
building a `RunConfig` must not cost a torch import (seconds on a busy machine). Each record
names its class as "module:Class" in this package; `ObjectiveSpec.cls` imports it on first use.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from .base import Objective


@dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective, built as cls(source_features, source_labels, **options)."""
    name: str
    factory: str                 # "module:Class" inside orca_engine.alignment, imported lazily
    description: str
    options: tuple[str, ...]     # keyword options the class accepts

    @property
    def cls(self) -> type[Objective]:
        """The objective's class (imports torch and the module that defines it)."""
        module, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(f".{module}", __package__), attribute)


OBJECTIVES: Registry[ObjectiveSpec] = Registry("alignment objective")
for _spec in (
    ObjectiveSpec("otdd-exact", "otdd:ExactOTDD", "OTDD with entropic label distances (ORCA's default)",
                  ("epsilon", "scaling")),
    ObjectiveSpec("otdd-gaussian", "otdd:GaussianOTDD",
                  "OTDD with classes as Gaussians (Bures-Wasserstein labels)", ("epsilon", "scaling")),
    ObjectiveSpec("mmd", "kernels:MMD", "multi-bandwidth Gaussian-kernel MMD², per target class",
                  ("kernel_mul", "kernel_num", "max_source_samples", "seed")),
    ObjectiveSpec("l2", "kernels:MeanDistance", "mean distance between source and target samples", ()),
    ObjectiveSpec("none", "kernels:NoAlignment", "zero: the no-alignment ablation", ()),
):
    OBJECTIVES.register(_spec.name, _spec)
