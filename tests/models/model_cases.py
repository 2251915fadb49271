"""Shared tables for the model tests: offline backbones, input cases per modality, target shapes per task."""
from __future__ import annotations

import functools

from orca_engine.backbones import BACKBONES, load_backbone
from orca_engine.bodies import Backbone

TINY = tuple(name for name, spec in BACKBONES.items() if spec.random_init_only)
TEXT_TINY = tuple(name for name in TINY if BACKBONES.get(name).kind == "text")
VISION_TINY = tuple(name for name in TINY if BACKBONES.get(name).kind == "vision")

# name -> (modality, per-sample input shape); batch of 2 in the tests
INPUTS = {
    "sequence": ("sequence", (3, 100)),
    "grey-8": ("image", (1, 8, 8)),
    "rgb-28": ("image", (3, 28, 28)),
    "tabular": ("tabular", (13,)),
}
SUPPORTS = {"text": ("sequence", "image", "tabular"), "vision": ("image",)}
TASKS = ("classification", "regression", "multilabel", "dense")


def target(task: str, modality: str, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
    """(output_shape, num_outputs, expected prediction shape per sample) for a task on an input."""
    grid = input_shape if modality == "tabular" else input_shape[1:]  # dense targets share the input grid
    return {
        "classification": ((), 3, (3,)),
        "regression": ((2,), 2, (2,)),
        "multilabel": ((5,), 5, (5,)),
        "dense": ((2, *grid), 2, (2, *grid)),
    }[task]


def cases() -> list[tuple[str, str, str]]:
    """Every (backbone, input case, task) an offline tiny backbone supports."""
    return [(name, case, task) for name in TINY for case, (modality, _) in INPUTS.items()
            if modality in SUPPORTS[BACKBONES.get(name).kind] for task in TASKS]


@functools.lru_cache(maxsize=None)
def shared_backbone(name: str) -> Backbone:
    """A backbone loaded once per test session; tests must not train or re-flag it."""
    return load_backbone(name)
