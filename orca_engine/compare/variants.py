"""The variants a comparison grid runs, the grid's cells, and the budget presets.

Every variant is the ORCA recipe (align with `otdd-exact` from a copied embedder init, then fine-
tune everything of a pretrained body) with one thing changed, so each row answers one question:

    orca                  the recipe itself
    no-align              same init, alignment skipped           (does alignment help?)
    no-align-random-init  alignment skipped AND random embedder  (the official code's conflated "no align")
    align-<objective>     another alignment objective            (does OTDD beat other objectives?)
    scope-<scope>         fine-tune less of the body             (does fine-tuning the body matter?)
    random-body           same architecture, no pretraining      (does pretraining matter?)
    classical             logistic / ridge regression on flattened inputs (is a transformer needed at all?)

A grid crosses variants with seeds, and a few variants (`fraction_variants`) with training-data
fractions too (is the advantage larger when data is scarce?).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..registry import Registry

# The recipe every variant starts from; a variant's overrides change exactly one idea of it.
ORCA_RECIPE: dict[str, Any] = {"align.objective": "otdd-exact", "model.embedder_init": "copy",
                               "refine.scope": "full", "model.pretrained": True}


@dataclass(frozen=True)
class Variant:
    """One row of a comparison: a name, what it tests, and its config changes to the ORCA recipe."""
    name: str
    question: str  # the claim this variant tests, in a few words
    changes: dict[str, Any] = field(default_factory=dict)  # dotted overrides on top of ORCA_RECIPE
    kind: str = "neural"  # "neural" (the stages) or "classical" (orca_engine.baselines)

    @property
    def overrides(self) -> dict[str, Any]:
        """The variant's full recipe as dotted config overrides."""
        return {**ORCA_RECIPE, **self.changes} if self.kind == "neural" else {}


VARIANTS: Registry[Variant] = Registry("comparison variant")
for _variant in (
    Variant("orca", "the recipe: align (otdd-exact), then fine-tune everything"),
    Variant("no-align", "does alignment help? (same embedder init, no alignment)", {"align.objective": "none"}),
    Variant("no-align-random-init", "the official code's 'no alignment': no alignment and a random embedder",
            {"align.objective": "none", "model.embedder_init": "random"}),
    Variant("align-otdd-gaussian", "does exact OTDD beat its Gaussian approximation?",
            {"align.objective": "otdd-gaussian"}),
    Variant("align-mmd", "does OTDD beat MMD as the alignment objective?", {"align.objective": "mmd"}),
    Variant("align-l2", "does OTDD beat a mean pairwise distance?", {"align.objective": "l2"}),
    Variant("scope-layernorm", "does fine-tuning the body matter? (LayerNorms only, FPT)",
            {"refine.scope": "layernorm"}),
    Variant("scope-frozen-body", "does fine-tuning the body matter? (body frozen)", {"refine.scope": "frozen-body"}),
    Variant("random-body", "does pretraining matter? (same architecture, random weights)",
            {"model.pretrained": False}),
    Variant("classical", "is a transformer needed? (logistic or ridge regression on flattened inputs)",
            kind="classical"),
):
    VARIANTS.register(_variant.name, _variant)

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
DEFAULT_FRACTION_VARIANTS = ("orca", "no-align", "classical")

# Budget presets: dotted overrides applied to the grid's base config. They change how long each
# run trains, never what is compared; the settings used are recorded with every table.
PRESETS: dict[str, dict[str, Any]] = {
    "full": {"align.projection_every": 0, "evaluate.baselines": "none"},
    "quick": {"align.projection_every": 0, "evaluate.baselines": "none", "align.steps": 30, "align.source_samples": 500,
              "align.samples_per_class": 32, "model.max_tokens": 16, "refine.epochs": 3, "refine.lr": 3e-4,
              "refine.batch_size": 32},
}


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a variant at a seed and a training-data fraction."""
    variant: Variant
    seed: int
    fraction: float

    @property
    def label(self) -> str:
        tail = "" if self.fraction == 1.0 else f"@{self.fraction:g}"
        return f"{self.variant.name}{tail}-s{self.seed}"


@dataclass(frozen=True)
class GridSpec:
    """Which variants, seeds and data fractions a comparison runs."""
    variants: tuple[str, ...] = tuple(VARIANTS.names())
    seeds: tuple[int, ...] = (0, 1, 2)
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    fraction_variants: tuple[str, ...] = DEFAULT_FRACTION_VARIANTS

    def __post_init__(self) -> None:
        for name in (*self.variants, *self.fraction_variants):
            VARIANTS.get(name)  # raises ConfigError listing the known variants
        if not self.variants:
            raise ConfigError("a comparison needs at least one variant; choose from: " + ", ".join(VARIANTS))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds = {list(self.seeds)}: give one or more distinct seeds")
        bad = [f for f in self.fractions if not 0.01 <= f <= 1.0]
        if bad or not self.fractions:
            raise ConfigError(f"fractions = {list(self.fractions)}: each must lie in 0.01..1.0 (data.train_fraction)")

    def cells(self) -> list[Cell]:
        """Every (variant, seed, fraction) run; fractions below 1 only for `fraction_variants`."""
        out = []
        for name in self.variants:
            fractions = self.fractions if name in self.fraction_variants else (1.0,)
            for fraction in sorted(set(fractions) | ({1.0} if name in self.fraction_variants else set())):
                out.extend(Cell(VARIANTS.get(name), seed, fraction) for seed in self.seeds)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"variants": list(self.variants), "seeds": list(self.seeds), "fractions": list(self.fractions),
                "fraction_variants": list(self.fraction_variants)}
