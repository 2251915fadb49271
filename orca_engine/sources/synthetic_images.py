"""Procedural RGB images in 10 classes: the offline stand-in for CIFAR-10.

These are NOT natural images. They are textures and shapes (gratings, blobs, checkerboards, rings,
...) with a colour pair per class, random geometry and pixel noise, so a vision body's patch
embedding sees structured, labelled inputs when the hub (and so CIFAR-10) is out of reach. Expect
alignment against them to say less about natural-image statistics than the real proxy does.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

SIZE = 32
NOISE_STD = 0.04
COLOUR_JITTER = 0.12

_axis = np.linspace(-1.0, 1.0, SIZE, dtype=np.float64)
_Y, _X = np.meshgrid(_axis, _axis, indexing="ij")  # (H, W) coordinates in [-1, 1]

Pattern = Callable[[np.random.Generator, int], np.ndarray]  # (rng, m) -> (m, H, W) in [0, 1]


def _u(rng: np.random.Generator, lo: float, hi: float, m: int) -> np.ndarray:
    return rng.uniform(lo, hi, size=(m, 1, 1))  # broadcasts against (H, W)


def _grating(angle_deg: float) -> Pattern:
    def pattern(rng: np.random.Generator, m: int) -> np.ndarray:
        theta = np.deg2rad(angle_deg + _u(rng, -15, 15, m))
        freq, phase = _u(rng, 1.5, 4.0, m), _u(rng, 0, 2 * np.pi, m)
        along = _X * np.cos(theta) + _Y * np.sin(theta)
        return 0.5 + 0.5 * np.sin(np.pi * freq * along + phase)
    return pattern


def _blobs(rng: np.random.Generator, m: int) -> np.ndarray:
    total = np.zeros((m, SIZE, SIZE))
    for _ in range(3):
        cy, cx, sigma = _u(rng, -0.7, 0.7, m), _u(rng, -0.7, 0.7, m), _u(rng, 0.15, 0.35, m)
        total += np.exp(-((_Y - cy) ** 2 + (_X - cx) ** 2) / (2 * sigma ** 2))
    return np.clip(total, 0.0, 1.0)


def _checkerboard(rng: np.random.Generator, m: int) -> np.ndarray:
    cells, theta = _u(rng, 2.0, 5.0, m), np.deg2rad(_u(rng, -10, 10, m))
    u = _X * np.cos(theta) + _Y * np.sin(theta)
    v = -_X * np.sin(theta) + _Y * np.cos(theta)
    return (np.sin(np.pi * cells * u) * np.sin(np.pi * cells * v) > 0).astype(np.float64)


def _rings(rng: np.random.Generator, m: int) -> np.ndarray:
    cy, cx = _u(rng, -0.4, 0.4, m), _u(rng, -0.4, 0.4, m)
    radius = np.sqrt((_Y - cy) ** 2 + (_X - cx) ** 2)
    return 0.5 + 0.5 * np.cos(np.pi * _u(rng, 2.0, 5.0, m) * radius + _u(rng, 0, 2 * np.pi, m))


def _gradient(rng: np.random.Generator, m: int) -> np.ndarray:
    theta = _u(rng, 0, 2 * np.pi, m)
    return (_X * np.cos(theta) + _Y * np.sin(theta)) / (2 * np.sqrt(2)) + 0.5


def _dots(rng: np.random.Generator, m: int) -> np.ndarray:
    pitch, radius = _u(rng, 0.35, 0.6, m), _u(rng, 0.08, 0.15, m)
    dy, dx = _u(rng, 0, 1, m) * pitch, _u(rng, 0, 1, m) * pitch
    ry = np.mod(_Y + dy, pitch) - pitch / 2
    rx = np.mod(_X + dx, pitch) - pitch / 2
    return (ry ** 2 + rx ** 2 < radius ** 2).astype(np.float64)


def _clouds(rng: np.random.Generator, m: int) -> np.ndarray:
    # Sum of random low-frequency waves: smooth, sky-like texture without a dominant direction.
    total = np.zeros((m, SIZE, SIZE))
    for _ in range(6):
        theta, freq, phase = _u(rng, 0, np.pi, m), _u(rng, 0.5, 2.0, m), _u(rng, 0, 2 * np.pi, m)
        total += np.sin(np.pi * freq * (_X * np.cos(theta) + _Y * np.sin(theta)) + phase)
    return 0.5 + total / 12.0


def _cross(rng: np.random.Generator, m: int) -> np.ndarray:
    cy, cx, half = _u(rng, -0.5, 0.5, m), _u(rng, -0.5, 0.5, m), _u(rng, 0.08, 0.2, m)
    return ((np.abs(_Y - cy) < half) | (np.abs(_X - cx) < half)).astype(np.float64)


def _pinwheel(rng: np.random.Generator, m: int) -> np.ndarray:
    spokes = rng.integers(3, 8, size=(m, 1, 1))
    angle = np.arctan2(_Y - _u(rng, -0.3, 0.3, m), _X - _u(rng, -0.3, 0.3, m))
    return 0.5 + 0.5 * np.sin(spokes * angle + _u(rng, 0, 2 * np.pi, m))


# name -> (pattern, foreground RGB, background RGB); distinct colour pairs make classes separable
# by colour as well as by shape, as natural classes (sky, grass, ...) partly are.
CLASSES: dict[str, tuple[Pattern, tuple[float, float, float], tuple[float, float, float]]] = {
    "vertical-gratings": (_grating(0.0), (0.9, 0.8, 0.3), (0.2, 0.2, 0.5)),
    "diagonal-gratings": (_grating(45.0), (0.3, 0.8, 0.9), (0.5, 0.2, 0.1)),
    "blobs": (_blobs, (0.9, 0.4, 0.4), (0.1, 0.3, 0.2)),
    "checkerboards": (_checkerboard, (0.95, 0.95, 0.9), (0.15, 0.15, 0.2)),
    "rings": (_rings, (0.6, 0.3, 0.8), (0.9, 0.9, 0.6)),
    "gradients": (_gradient, (0.2, 0.5, 0.9), (0.9, 0.6, 0.3)),
    "dots": (_dots, (0.95, 0.2, 0.3), (0.3, 0.6, 0.3)),
    "clouds": (_clouds, (0.9, 0.9, 0.95), (0.3, 0.5, 0.8)),
    "crosses": (_cross, (0.1, 0.1, 0.1), (0.8, 0.7, 0.5)),
    "pinwheels": (_pinwheel, (0.4, 0.9, 0.4), (0.4, 0.1, 0.4)),
}
CLASS_NAMES = tuple(CLASSES)


def synthetic_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """`n` procedural images balanced over 10 classes, deterministic for `(n, seed)`.

    Returns (images (n, 3, 32, 32) float32 in [0, 1], labels (n,) int64, class names).
    """
    rng = np.random.default_rng(seed)
    k = len(CLASS_NAMES)
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)  # balanced, shuffled
    images = np.empty((n, 3, SIZE, SIZE), dtype=np.float32)
    for cls, (pattern, fg, bg) in enumerate(CLASSES.values()):
        rows = np.flatnonzero(labels == cls)
        if len(rows):
            images[rows] = _coloured(pattern(rng, len(rows)), fg, bg, rng)
    return images, labels, CLASS_NAMES


def _coloured(pattern: np.ndarray, fg: tuple, bg: tuple, rng: np.random.Generator) -> np.ndarray:
    """(m, H, W) pattern in [0, 1] -> (m, 3, H, W) RGB: bg + pattern * (fg - bg), jittered and noisy."""
    m = len(pattern)
    fg_rgb = np.asarray(fg) + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, size=(m, 3))  # (m, 3)
    bg_rgb = np.asarray(bg) + rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, size=(m, 3))
    mix = np.clip(pattern, 0.0, 1.0)[:, None]  # (m, 1, H, W)
    rgb = bg_rgb[:, :, None, None] + mix * (fg_rgb - bg_rgb)[:, :, None, None]  # (m, 3, H, W)
    rgb += rng.normal(0.0, NOISE_STD, size=rgb.shape)
    return np.clip(rgb, 0.0, 1.0)
