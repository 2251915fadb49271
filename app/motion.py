"""Motion in the projection: where the target cloud started, the path its centre took, and the scrubber.

A single frame shows where the points are; a class needs to see that they *moved*. Given the
run's frames so far (`RunView.frames`, float32 arrays), `motion_figure` draws frame `index` with

- a faded ghost of the target cloud as it was in the first frame of the same projection method
  (UMAP and PCA coordinates are not comparable, so a method switch starts a new trail),
- the path of the target cloud's centre from that frame to this one, and the source's centre,

on axes that cover the ghost too, so the journey fits in the view. Pure: arrays in, figure out.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from . import plots

GHOST = dict(symbol="x", size=5, color="rgba(120,120,120,0.25)")
PATH = dict(color="black", width=2)


def trail_start(frames: Sequence[dict], index: int) -> int:
    """Index of the first frame of the unbroken run of frames with `frames[index]`'s method."""
    method, start = frames[index]["method"], index
    while start > 0 and frames[start - 1]["method"] == method:
        start -= 1
    return start


def centre_path(frames: Sequence[dict], start: int, end: int) -> np.ndarray:
    """(end - start + 1, 2): the mean target point of each frame from `start` to `end` inclusive."""
    return np.array([np.asarray(f["target_xy"], float).reshape(-1, 2).mean(axis=0) for f in frames[start:end + 1]])


def motion_figure(frames: Sequence[dict], index: int, *, class_names=None, source_class_names=None,
                  axis_ranges=None, title: str = "") -> tuple[go.Figure, tuple]:
    """Frame `index` with the ghost start cloud and the centre's path; returns (figure, axis ranges used)."""
    frame = frames[index]
    start = trail_start(frames, index)
    ghost = np.asarray(frames[start]["target_xy"], float).reshape(-1, 2)
    source = np.asarray(frame["source_xy"], float).reshape(-1, 2)
    target = np.asarray(frame["target_xy"], float).reshape(-1, 2)
    ranges = plots.frame_axis_ranges(source, np.concatenate([target, ghost]), axis_ranges)
    fig = plots.projection_figure(source, target, frame["source_labels"], frame["target_labels"],
                                  step=frame.get("step"), method=frame.get("method", ""), class_names=class_names,
                                  source_class_names=source_class_names, axis_ranges=ranges, title=title)
    if index > start and len(ghost):
        fig.add_trace(go.Scatter(x=ghost[:, 0], y=ghost[:, 1], mode="markers", marker=GHOST,
                                 name=f"your data at step {frames[start].get('step')}", legendgroup="motion"))
        path = centre_path(frames, start, index)
        fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", line=PATH,
                                 marker=dict(size=[4] * (len(path) - 1) + [11], color="black"),
                                 name="centre of your data, step by step", legendgroup="motion"))
    if len(source):
        centre = source.mean(axis=0)
        fig.add_trace(go.Scatter(x=[centre[0]], y=[centre[1]], mode="markers", legendgroup="motion",
                                 marker=dict(symbol="star", size=14, color="white", line=dict(color="black", width=1.5)),
                                 name="centre of the source"))
    return fig, ranges
