"""Label-preserving input augmentation for refinement on small data.

With tens of training samples a 22M-parameter body memorises its training split within a few
hundred steps; a random, label-preserving change of each batch makes every step show it a sample
it has not seen exactly. The changes are mild and generic for each modality, on inputs already
standardised per channel (`data.arrays.standardise`):

    sequence (B, C, L)     shift in time by up to 1/10 of L (edges repeated), amplitude x U(0.9, 1.1),
                           noise N(0, 0.05^2)
    image    (B, C, H, W)  translate by up to 1/8 of each side (edges repeated), noise N(0, 0.05^2)
    tabular  (B, F)        noise N(0, 0.1^2) (a tenth of each feature's training spread)

Augmentation fights memorisation, which only happens when the budget shows each training sample
many times. `refine.augment = auto` therefore applies it when the run's budget covers the training
split at least AUTO_MIN_EPOCHS times (small data: 40 samples at batch 8 for 500 steps are 100
epochs) and leaves it off below (digits at 1,169 training samples gets 14 epochs; augmented, that
run reached 0.86 instead of 0.97 test accuracy: too few passes to learn through the changes).
`on` applies it regardless, `none` never. It applies to classification, multi-label and regression
tasks; dense tasks predict a value per input position, so moving the input would move the target:
they are never augmented. Augmentation is sampled from the run's seeded generator, so a run repeats
at a seed.

    augment = make_augmentation("auto", "sequence", "classification", torch.Generator().manual_seed(0),
                                epochs=budget.epochs)
    xb = augment(xb) if augment else xb
"""
from __future__ import annotations

from typing import Callable

import torch

Augmentation = Callable[[torch.Tensor], torch.Tensor]

SHIFT_SHARE = {"sequence": 0.1, "image": 0.125}  # largest shift, as a share of each shifted axis
NOISE_STD = {"sequence": 0.05, "image": 0.05, "tabular": 0.1}  # in training standard deviations
SEQUENCE_SCALE = 0.1  # amplitude x U(1 - s, 1 + s)
AUGMENTED_TASKS = ("classification", "multilabel", "regression")
AUTO_MIN_EPOCHS = 25  # `auto` augments when the budget passes over the training split at least this often


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _shift_indices(length: int, batch: int, share: float, generator: torch.Generator) -> torch.Tensor:
    """(B, length) source indices of a per-sample shift by up to share * length, edges repeated."""
    most = int(length * share)
    shifts = torch.randint(-most, most + 1, (batch, 1), generator=generator)
    return (torch.arange(length)[None] - shifts).clamp_(0, length - 1)  # (B, length)


def shift_sequence(x: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """(B, C, L) -> (B, C, L): each sample moved in time by up to share * L."""
    batch, channels, length = x.shape
    index = _shift_indices(length, batch, share, generator).to(x.device)  # (B, L)
    return x.gather(2, index[:, None].expand(-1, channels, -1))


def shift_image(x: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W): each image translated by up to share of each side."""
    batch, channels, height, width = x.shape
    rows = _shift_indices(height, batch, share, generator).to(x.device)  # (B, H)
    cols = _shift_indices(width, batch, share, generator).to(x.device)  # (B, W)
    x = x.gather(2, rows[:, None, :, None].expand(-1, channels, -1, width))
    return x.gather(3, cols[:, None, None, :].expand(-1, channels, height, -1))


def _noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    return x + std * torch.randn(x.shape, generator=generator).to(x.device, x.dtype)


def _sequence(generator: torch.Generator) -> Augmentation:
    def augment(x: torch.Tensor) -> torch.Tensor:
        x = shift_sequence(x, SHIFT_SHARE["sequence"], generator)
        scale = _uniform((x.shape[0], 1, 1), 1 - SEQUENCE_SCALE, 1 + SEQUENCE_SCALE, generator).to(x.device, x.dtype)
        return _noise(x * scale, NOISE_STD["sequence"], generator)
    return augment


def _image(generator: torch.Generator) -> Augmentation:
    def augment(x: torch.Tensor) -> torch.Tensor:
        return _noise(shift_image(x, SHIFT_SHARE["image"], generator), NOISE_STD["image"], generator)
    return augment


def _tabular(generator: torch.Generator) -> Augmentation:
    def augment(x: torch.Tensor) -> torch.Tensor:
        return _noise(x, NOISE_STD["tabular"], generator)
    return augment


BY_MODALITY: dict[str, Callable[[torch.Generator], Augmentation]] = {
    "sequence": _sequence, "image": _image, "tabular": _tabular}


def applies(mode: str, modality: str, task: str, epochs: float = float("inf")) -> bool:
    """Whether a run augments: `mode` on, or auto with at least AUTO_MIN_EPOCHS passes over the
    training split; never for dense tasks or a modality without a rule."""
    if mode == "none" or task not in AUGMENTED_TASKS or modality not in BY_MODALITY:
        return False
    return mode == "on" or epochs >= AUTO_MIN_EPOCHS


def make_augmentation(mode: str, modality: str, task: str, generator: torch.Generator,
                      epochs: float = float("inf"), probability: float = 1.0) -> Augmentation | None:
    """The batch augmentation for a run, or None when it does not apply (see `applies`). Each
    sample of a batch is changed with `probability` and passed through unchanged otherwise."""
    if not applies(mode, modality, task, epochs) or probability <= 0:
        return None
    change = BY_MODALITY[modality](generator)
    if probability >= 1:
        return change

    def some(x: torch.Tensor) -> torch.Tensor:
        changed = change(x)
        chosen = (torch.rand(x.shape[0], generator=generator) < probability).to(x.device)
        return torch.where(chosen.view(-1, *([1] * (x.dim() - 1))), changed, x)
    return some


def test_time_shift(mode: str, modality: str, task: str, augmented: bool) -> float:
    """refine.tta: the largest shift of test-time augmentation, as a share of each axis (0 = off).

    Half the training shift, so every copy is a change the model saw while training. `auto` uses it
    for sequences of a run that augments: on development data it added 2-4 points of test accuracy
    there, and on images the sign varied (docs/RECIPE.md). Dense tasks never: a shifted input has a
    shifted target."""
    if mode == "none" or task not in AUGMENTED_TASKS or modality not in SHIFT_SHARE:
        return 0.0
    if mode == "auto" and not (modality == "sequence" and augmented):
        return 0.0
    return SHIFT_SHARE[modality] / 2


def describe_tta(mode: str, shift: float) -> str:
    """One line for the run folder: whether predictions average shifted copies, and why."""
    if shift:
        why = "refine.tta = on" if mode == "on" else "automatic: a sequence run that augments"
        return f"outputs averaged over the input and copies shifted by {shift:.1%} of each axis ({why})"
    if mode == "none":
        return "none (refine.tta = none)"
    return "none (automatic: only for sequences of a run that augments; refine.tta = on forces it)"


def describe(mode: str, modality: str, task: str, epochs: float = float("inf"), probability: float = 1.0) -> str:
    """One line for the run folder: what augmentation this run used, and why."""
    if mode == "none":
        return "none (refine.augment = none)"
    if task not in AUGMENTED_TASKS:
        return f"none: {task} targets follow the input grid, so moving the input would move the target"
    if modality not in BY_MODALITY:
        return f"none: no augmentation rule for {modality} inputs"
    if not applies(mode, modality, task, epochs):
        return (f"none (automatic): the budget passes over the training split {epochs:.0f} times, fewer than "
                f"{AUTO_MIN_EPOCHS}: too few to memorise it (refine.augment = on forces it)")
    what = {"sequence": "time shift up to 10%, amplitude x0.9-1.1, noise 0.05 sd",
            "image": "translation up to 1/8 of each side, noise 0.05 sd",
            "tabular": "noise 0.1 sd"}[modality]
    why = "refine.augment = on" if mode == "on" else (
        f"automatic: the budget passes over the training split {epochs:.0f} times (at least {AUTO_MIN_EPOCHS})")
    share = "" if probability >= 1 else f", on {probability:.0%} of each batch's samples"
    return f"{what}{share} ({why})"


__all__ = ["make_augmentation", "applies", "describe", "test_time_shift", "describe_tta", "AUTO_MIN_EPOCHS",
           "shift_sequence", "shift_image", "AUGMENTED_TASKS"]
