"""Pictures for slides: the alignment as an animated GIF, and the figures as PNG.

Rendered from the recorded frames (`RunView.frames`), not from a screen: a finished run, a replay
or a lesson all give the same pictures. The GIF is drawn with Pillow (no browser, no kaleido);
each frame shows the source (light discs), your data (crosses), the ghost of where your data
started and the path of its centre, on axes fixed for the whole animation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .motion import centre_path, trail_start

SIZE = 480  # pixels, square
FRAME_MS = 150  # each alignment frame
HOLD_MS = 1500  # the last frame, before the loop starts again
MAX_FRAMES = 80  # more recorded frames are thinned evenly
SOURCE = [(174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148),
          (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229)]
TARGET = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


@dataclass(frozen=True)
class Animation:
    path: Path
    frames: int
    seconds: float
    size: int
    bytes: int

    def describe(self) -> str:
        return (f"{self.size}×{self.size} px, {self.frames} frames, {self.seconds:.1f} s a loop, "
                f"{self.bytes / 1024:.0f} KB")


def projection_gif(frames: list[dict], path: str | Path, size: int = SIZE) -> Animation:
    """An animated GIF of the frames of the last trail (one projection method) at `path`."""
    if not frames:
        raise ValueError("no projection frames to animate: align first (or play a lesson)")
    start = trail_start(frames, len(frames) - 1)
    trail = frames[start:]
    picks = np.unique(np.linspace(0, len(trail) - 1, min(len(trail), MAX_FRAMES)).round().astype(int))
    box = _bounds(trail)
    images = [_draw(trail, int(i), box, size) for i in picks]
    durations = [FRAME_MS] * (len(images) - 1) + [HOLD_MS]
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)
    return Animation(path, len(images), sum(durations) / 1000, size, path.stat().st_size)


def _bounds(frames: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate([np.concatenate([np.asarray(f["source_xy"], float).reshape(-1, 2),
                                             np.asarray(f["target_xy"], float).reshape(-1, 2)]) for f in frames])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.05 * np.maximum(high - low, 1e-9)
    return low - pad, high + pad


def _draw(frames: list[dict], index: int, box, size: int) -> Image.Image:
    low, high = box
    top = 28  # room for the caption

    def pixel(xy: np.ndarray) -> np.ndarray:  # (n, 2) data -> (n, 2) pixels, y up
        unit = (np.asarray(xy, float).reshape(-1, 2) - low) / (high - low)
        return np.c_[unit[:, 0] * (size - 1), top + (1 - unit[:, 1]) * (size - 1 - top)]

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    frame = frames[index]
    for (x, y), label in zip(pixel(frame["source_xy"]), frame["source_labels"]):
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_colour(label, SOURCE))
    if index > 0:
        for x, y in pixel(frames[0]["target_xy"]):
            draw.line([x - 2, y - 2, x + 2, y + 2], fill=(215, 215, 215))
            draw.line([x - 2, y + 2, x + 2, y - 2], fill=(215, 215, 215))
    for (x, y), label in zip(pixel(frame["target_xy"]), frame["target_labels"]):
        colour = _colour(label, TARGET)
        draw.line([x - 3, y - 3, x + 3, y + 3], fill=colour, width=2)
        draw.line([x - 3, y + 3, x + 3, y - 3], fill=colour, width=2)
    path = pixel(centre_path(frames, 0, index))
    if len(path) > 1:
        draw.line([tuple(p) for p in path], fill="black", width=2)
    x, y = path[-1]
    draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill="black")
    draw.text((8, 8), f"{str(frame.get('method', '')).upper()}  step {frame.get('step')}   "
                      "o source   x your data   grey: start", fill="black")
    return image


def _colour(label, palette: list) -> tuple:
    """A class's colour: by its number, or a stable checksum of its name (never Python's salted hash)."""
    import zlib
    text = str(label)
    index = int(text) if text.lstrip("-").isdigit() else zlib.crc32(text.encode())
    return palette[index % len(palette)]


def figure_pngs(view, folder: str | Path) -> list[Path]:
    """The projection (last frame, with its trail), the alignment objective and the training curves as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if view.frames:
        frames = view.frames
        start = trail_start(frames, len(frames) - 1)
        image = _draw(frames[start:], len(frames) - 1 - start, _bounds(frames[start:]), 720)
        image.save(folder / "projection.png")
        written.append(folder / "projection.png")
    if view.align_steps:
        fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
        ax.plot(view.align_steps, view.align_losses)
        ax.set(xlabel="alignment step", ylabel="objective", title="Alignment objective")
        fig.tight_layout()
        fig.savefig(folder / "alignment_objective.png")
        plt.close(fig)
        written.append(folder / "alignment_objective.png")
    if view.refine_steps or view.val_epochs:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), dpi=120)
        top.plot(view.refine_steps, view.refine_losses)
        top.set(xlabel="step", ylabel="training loss")
        for name, values in view.val_metrics.items():
            bottom.plot(view.val_epochs[:len(values)], values, marker="o", label=name)
        bottom.set(xlabel="epoch", ylabel="validation")
        bottom.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "training_curves.png")
        plt.close(fig)
        written.append(folder / "training_curves.png")
    return written
