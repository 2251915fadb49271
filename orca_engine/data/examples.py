"""Bundled example datasets, built at run time (nothing large in git): a registry of records.

scikit-learn's bundled sets work offline; the synthetic ones are generated from a seed, small
enough that a whole run on a 2-core CPU takes a minute or two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..registry import Registry


@dataclass(frozen=True)
class ExampleData:
    """Raw arrays of one example. Tabular examples carry feature names and become a table."""
    x: np.ndarray
    y: np.ndarray
    feature_names: list[str] | None = None
    class_names: list[str] | None = None  # names for integer labels 0..K-1, when they have names


@dataclass(frozen=True)
class ExampleSpec:
    name: str
    modality: str
    task: str
    description: str
    build: Callable[[int], ExampleData]  # seed -> data


EXAMPLES: Registry[ExampleSpec] = Registry("example dataset")


def _example(name: str, modality: str, task: str, description: str):
    def register(build: Callable[[int], ExampleData]) -> Callable[[int], ExampleData]:
        EXAMPLES.register(name, ExampleSpec(name, modality, task, description, build))
        return build
    return register


# -- scikit-learn's bundled sets (the seed is unused: they are fixed) ----------------------------

@_example("digits", "image", "classification", "8x8 handwritten digits, 1,797 images, 10 classes")
def _digits(seed: int) -> ExampleData:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    return ExampleData(images, bunch.target.astype(np.int64), class_names=[str(c) for c in bunch.target_names])


def _sklearn_table(loader_name: str, classes: bool) -> ExampleData:
    import sklearn.datasets
    bunch = getattr(sklearn.datasets, loader_name)()
    names = [str(c) for c in bunch.target_names] if classes else None
    return ExampleData(bunch.data.astype(np.float32), bunch.target, [str(f) for f in bunch.feature_names], names)


@_example("breast_cancer", "tabular", "classification",
          "Wisconsin breast cancer, 569 tumours x 30 measurements, malignant vs benign")
def _breast_cancer(seed: int) -> ExampleData:
    return _sklearn_table("load_breast_cancer", classes=True)


@_example("diabetes", "tabular", "regression",
          "442 diabetes patients x 10 baseline variables -> disease progression after one year")
def _diabetes(seed: int) -> ExampleData:
    return _sklearn_table("load_diabetes", classes=False)


@_example("wine", "tabular", "classification", "178 wines x 13 chemical measurements, 3 cultivars")
def _wine(seed: int) -> ExampleData:
    return _sklearn_table("load_wine", classes=True)


@_example("iris", "tabular", "classification", "150 iris flowers x 4 measurements, 3 species")
def _iris(seed: int) -> ExampleData:
    return _sklearn_table("load_iris", classes=True)


# -- synthetic ---------------------------------------------------------------------------------

SIGNAL_LENGTH = 128
WAVEFORMS = ("sine", "square", "sawtooth", "chirp")


@_example("synthetic-signals", "sequence", "classification",
          "1,200 noisy 1-D signals (length 128): sine, square, sawtooth or chirp at random frequency")
def _signals(seed: int, n: int = 1200) -> ExampleData:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, SIGNAL_LENGTH, endpoint=False)[None]  # (1, L)
    labels = rng.integers(0, len(WAVEFORMS), n)
    freq = rng.uniform(2.0, 6.0, (n, 1))
    phase = rng.uniform(0.0, 1.0, (n, 1))
    cycles = freq * t + phase  # (N, L), in periods
    waves = {
        "sine": np.sin(2 * np.pi * cycles),
        "square": np.sign(np.sin(2 * np.pi * cycles)),
        "sawtooth": 2.0 * (cycles % 1.0) - 1.0,
        "chirp": np.sin(2 * np.pi * (phase + freq * t * (0.5 + 1.5 * t))),  # frequency rises over time
    }
    clean = np.stack([waves[w] for w in WAVEFORMS])[labels, np.arange(n)]  # (N, L)
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    x = amplitude * clean + rng.normal(0.0, 0.3, clean.shape)
    return ExampleData(x[:, None].astype(np.float32), labels.astype(np.int64), class_names=list(WAVEFORMS))


MULTILABEL_FREQUENCIES = (3.0, 7.0, 13.0, 21.0)


@_example("synthetic-multilabel", "sequence", "multilabel",
          "1,000 noisy 1-D signals (length 128); labels: which of 4 frequencies are present")
def _multilabel(seed: int, n: int = 1000) -> ExampleData:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, SIGNAL_LENGTH, endpoint=False)[None, None]  # (1, 1, L)
    present = (rng.random((n, len(MULTILABEL_FREQUENCIES))) < 0.4).astype(np.float32)  # (N, K)
    freq = np.asarray(MULTILABEL_FREQUENCIES)[None, :, None]  # (1, K, 1)
    phase = rng.uniform(0.0, 2 * np.pi, (n, len(MULTILABEL_FREQUENCIES), 1))
    tones = np.sin(2 * np.pi * freq * t + phase)  # (N, K, L)
    x = (present[:, :, None] * tones).sum(axis=1) + rng.normal(0.0, 0.4, (n, SIGNAL_LENGTH))
    return ExampleData(x[:, None].astype(np.float32), present,
                       class_names=[f"{f:g} Hz" for f in MULTILABEL_FREQUENCIES])


HEAT_GRID = 64
HEAT_STEPS = 40
HEAT_RATE = 0.2  # alpha * dt / dx^2; explicit Euler is stable below 0.5


@_example("heat-1d", "sequence", "dense",
          "1,000 random 1-D temperature fields (64 points) -> the field after diffusing (heat equation)")
def _heat(seed: int, n: int = 1000) -> ExampleData:
    rng = np.random.default_rng(seed)
    u0 = _random_fields(rng, n)  # (N, G)
    u = u0.copy()
    for _ in range(HEAT_STEPS):  # u_t = alpha u_xx on a periodic grid, explicit Euler
        u = u + HEAT_RATE * (np.roll(u, 1, axis=1) - 2 * u + np.roll(u, -1, axis=1))
    return ExampleData(u0[:, None].astype(np.float32), u[:, None].astype(np.float32))


def _random_fields(rng: np.random.Generator, n: int, modes: int = 6) -> np.ndarray:
    """Smooth periodic fields: a few random Fourier modes with decaying amplitude, (n, HEAT_GRID)."""
    x = np.linspace(0.0, 2 * np.pi, HEAT_GRID, endpoint=False)[None, None]  # (1, 1, G)
    k = np.arange(1, modes + 1)[None, :, None]  # (1, M, 1)
    amp = rng.normal(0.0, 1.0, (n, modes, 1)) / k
    phase = rng.uniform(0.0, 2 * np.pi, (n, modes, 1))
    return (amp * np.sin(k * x + phase)).sum(axis=1)
