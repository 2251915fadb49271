"""The record every baseline returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BaselineResult:
    """A fitted baseline's metrics (task units), the setting chosen on validation, and its cost."""
    model: str  # e.g. "logistic regression"
    parameter: str  # the searched setting, e.g. "C" ("" when nothing is searched)
    choice: float  # its value chosen on the validation split
    validation: dict[str, float]
    test: dict[str, float]
    searched: dict[str, float] = field(default_factory=dict)  # setting -> validation selection metric
    seconds: float = 0.0
    train_samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "parameter": self.parameter, "choice": self.choice,
                "validation": self.validation, "test": self.test, "searched": self.searched,
                "seconds": self.seconds, "train_samples": self.train_samples}
