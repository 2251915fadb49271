"""Engine numbers -> plotly figures. Pure functions: no gradio, no session, no state.

Every figure sets `layout.uirevision` to a constant per kind of figure: plotly then keeps the
user's zoom, pan and legend clicks when Gradio swaps in an updated figure of the same kind.
Empty input gives a placeholder that says what will appear, never an error.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

# Source classes are drawn light and target classes strong, so the same colour index on both
# sides does not suggest that source class 3 "is" target class 3.
SOURCE_COLOURS = qualitative.Pastel
TARGET_COLOURS = qualitative.Plotly
MARGIN = dict(l=40, r=10, t=40, b=40)
# Legends go under the plot: at the top right, plotly's toolbar (the mode bar) covers them.
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0.0, font=dict(size=10))

AxisRanges = tuple[tuple[float, float], tuple[float, float]]


def empty(message: str, height: int = 320) -> go.Figure:
    """A blank figure that shows `message` in the middle (e.g. "Start alignment to see ...")."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font=dict(size=14, color="grey"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin=MARGIN, uirevision="empty")
    return fig


def loss_curve(steps: Sequence[int], losses: Sequence[float], title: str = "Alignment objective",
               y_title: str = "objective", marked_step: int | None = None) -> go.Figure:
    """One line: loss per step (e.g. the OT objective while aligning); `marked_step` gets a dotted
    vertical line (the step another figure, such as the class-distance heatmap, shows)."""
    if len(steps) == 0:
        return empty(title)
    fig = go.Figure(go.Scatter(x=list(steps), y=list(losses), mode="lines+markers",
                               marker=dict(size=4), name=y_title))
    if marked_step is not None:
        fig.add_vline(x=marked_step, line=dict(dash="dot", color="grey", width=1))
    fig.update_layout(title=title, xaxis_title="step", yaxis_title=y_title, height=320,
                      margin=MARGIN, uirevision="loss_curve", showlegend=False)
    return fig


def training_curves(steps: Sequence[int], losses: Sequence[float], val_epochs: Sequence[int],
                    val_metrics: Mapping[str, Sequence[float]],
                    title: str = "Training loss and validation metric") -> go.Figure:
    """Train loss per step (top) and each validation metric per epoch (bottom).

    Two panels rather than two y axes: steps and epochs are different x units.
    val_metrics maps a metric name to one value per entry of val_epochs.
    """
    if len(steps) == 0 and len(val_epochs) == 0:
        return empty(title)
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2,
                        subplot_titles=("training loss, by step", "validation, by epoch"))
    fig.add_trace(go.Scatter(x=list(steps), y=list(losses), mode="lines", name="training loss"),
                  row=1, col=1)
    for name, values in val_metrics.items():
        fig.add_trace(go.Scatter(x=list(val_epochs), y=list(values), mode="lines+markers",
                                 name=f"validation {name}"), row=2, col=1)
    fig.update_xaxes(tickmode="linear", tick0=1, dtick=max(1, len(val_epochs) // 10), row=2, col=1)  # whole epochs
    fig.update_layout(title=title, height=480, margin=dict(MARGIN, t=70, b=70),
                      uirevision="training_curves", legend=LEGEND_BELOW)
    return fig


def projection_figure(source_xy: np.ndarray, target_xy: np.ndarray, source_labels: Sequence,
                      target_labels: Sequence, *, step: int | None = None, method: str = "",
                      class_names: Sequence[str] | None = None,
                      source_class_names: Sequence[str] | None = None,
                      axis_ranges: AxisRanges | None = None,
                      title: str = "Source and target embeddings") -> go.Figure:
    """Scatter of one projection frame: source as circles, target as crosses, coloured by class.

    source_xy (n_s, 2), target_xy (n_t, 2); labels (n_s,), (n_t,). `class_names` names the
    target (user's) classes by index, `source_class_names` the source's. One trace per side and
    class, named "source: <class>" / "target: <class>". `axis_ranges` ((x0, x1), (y0, y1)) pins
    the view so it does not jump between frames (see `frame_axis_ranges`).
    """
    source_xy, target_xy = _points(source_xy), _points(target_xy)
    if len(source_xy) + len(target_xy) == 0:
        return empty(title)
    fig = go.Figure()
    _add_class_traces(fig, "source", source_xy, source_labels, source_class_names,
                      SOURCE_COLOURS, dict(symbol="circle", size=6, opacity=0.55))
    _add_class_traces(fig, "target", target_xy, target_labels, class_names,
                      TARGET_COLOURS, dict(symbol="x", size=7, opacity=0.9))
    which = " - ".join(part for part in (method.upper(), "" if step is None else f"step {step}") if part)
    heading = f"{which}<br><sup>{title}</sup>" if which else title  # short first line: fits a half-width plot
    fig.update_layout(title=heading, height=520, margin=dict(MARGIN, b=20), uirevision="projection",
                      legend=LEGEND_BELOW)
    fig.update_xaxes(showticklabels=method == "pca", zeroline=False)
    fig.update_yaxes(showticklabels=method == "pca", zeroline=False)
    if axis_ranges is not None:
        fig.update_xaxes(range=list(axis_ranges[0]), autorange=False)
        fig.update_yaxes(range=list(axis_ranges[1]), autorange=False)
    return fig


def frame_figure(frame: Mapping, class_names: Sequence[str] | None = None,
                 **options) -> go.Figure:
    """`projection_figure` of a ProjectionFrame event dict (as read back from events.jsonl)."""
    return projection_figure(frame.get("source_xy", []), frame.get("target_xy", []),
                             frame.get("source_labels", []), frame.get("target_labels", []),
                             step=frame.get("step"), method=frame.get("method", ""),
                             class_names=class_names, **options)


def frame_axis_ranges(source_xy: np.ndarray, target_xy: np.ndarray,
                      previous: AxisRanges | None = None, margin: float = 0.05,
                      refit_below: float = 0.5) -> AxisRanges:
    """Axis ranges covering this frame and `previous`, so the view does not jump between frames.

    Each side is padded by `margin` times its extent. An axis grows at once to hold every point;
    it shrinks only when the frame spans less than `refit_below` of it (then it is refitted to
    the frame), so a cloud that contracts, as UMAP clusters do, does not end up as a speck in an
    empty plot, while small changes leave the axes alone. Returns ((x0, x1), (y0, y1)).
    """
    points = np.concatenate([_points(source_xy), _points(target_xy)])  # (n, 2)
    if len(points) == 0:
        return previous if previous is not None else ((-1.0, 1.0), (-1.0, 1.0))
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-9)
    low, high = low - pad, high + pad
    if previous is not None:
        old_low, old_high = np.array([previous[0][0], previous[1][0]]), np.array([previous[0][1], previous[1][1]])
        keep = (high - low) >= refit_below * (old_high - old_low)  # per axis: union, else refit
        low = np.where(keep, np.minimum(low, old_low), low)
        high = np.where(keep, np.maximum(high, old_high), high)
    return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))


def class_distance_heatmap(matrix: np.ndarray, target_classes: Sequence, source_classes: Sequence,
                           *, step: int | None = None, colour_range: tuple[float, float] | None = None,
                           title: str = "Target class to source class distance") -> go.Figure:
    """Heatmap of matrix (n_target_classes, n_source_classes); rows target, columns source.

    `colour_range` (low, high) fixes the colour scale (e.g. across a run's frames, so a cell that
    darkens really came closer); without it plotly fits the scale to this matrix alone."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.size == 0:
        return empty(title)
    heading = title if step is None else f"{title} - step {step}"
    scale = {} if colour_range is None else {"zmin": colour_range[0], "zmax": colour_range[1]}
    fig = go.Figure(go.Heatmap(z=matrix, x=[str(c) for c in source_classes],
                               y=[str(c) for c in target_classes], colorscale="Viridis",
                               colorbar=dict(title="distance"), **scale))
    fig.update_layout(title=heading, xaxis_title="source class", yaxis_title="target class",
                      height=380, margin=MARGIN, uirevision="class_distances")
    fig.update_yaxes(autorange="reversed")  # first class on top, as in a table
    return fig


def confusion_matrix_figure(matrix: np.ndarray, class_names: Sequence[str] | None = None,
                            title: str = "Confusion matrix (test)") -> go.Figure:
    """Counts (n_classes, n_classes), rows true and columns predicted; colour is the row share."""
    counts = np.asarray(matrix, dtype=float)
    if counts.size == 0:
        return empty(title)
    names = list(class_names) if class_names else [str(i) for i in range(len(counts))]
    row_share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    fig = go.Figure(go.Heatmap(z=row_share, x=names, y=names, zmin=0, zmax=1,
                               colorscale="Blues", text=counts.astype(int),
                               texttemplate="%{text}", colorbar=dict(title="share of row")))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", height=420,
                      margin=MARGIN, uirevision="confusion_matrix")
    fig.update_yaxes(autorange="reversed")
    return fig


def predicted_vs_true(y_true: np.ndarray, y_pred: np.ndarray, max_points: int = 5000,
                      seed: int = 0, title: str = "Predicted vs true (test)") -> go.Figure:
    """Scatter of predicted against true values, flattened (dense targets too), with y = x.

    Above `max_points` values a fixed random subsample is drawn so the browser stays responsive.
    """
    true, pred = np.ravel(np.asarray(y_true, float)), np.ravel(np.asarray(y_pred, float))
    if true.size == 0:
        return empty(title)
    if true.size > max_points:
        keep = np.random.default_rng(seed).choice(true.size, size=max_points, replace=False)
        true, pred = true[keep], pred[keep]
    low, high = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    fig = go.Figure([
        go.Scatter(x=true, y=pred, mode="markers", marker=dict(size=4, opacity=0.5),
                   name="test samples"),
        go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect (y = x)",
                   line=dict(dash="dash", color="grey")),
    ])
    fig.update_layout(title=title, xaxis_title="true", yaxis_title="predicted", height=420,
                      margin=dict(MARGIN, b=60), uirevision="predicted_vs_true", legend=LEGEND_BELOW)
    return fig


def runs_comparison(rows: Sequence[Mapping], metric: str = "metric", label_key: str = "label",
                    mean_key: str = "mean", error_key: str = "std",
                    title: str = "Runs compared") -> go.Figure:
    """Bar per run (e.g. one ablation over several seeds) with its spread as an error bar.

    rows: [{"label": "aligned", "mean": 0.81, "std": 0.02}, ...]; a missing error is drawn
    without a bar. `metric` names the y axis.
    """
    if len(rows) == 0:
        return empty(title)
    errors = [row.get(error_key) for row in rows]
    fig = go.Figure(go.Bar(
        x=[str(row[label_key]) for row in rows], y=[row[mean_key] for row in rows],
        error_y=dict(type="data", array=[0.0 if e is None else e for e in errors],
                     visible=any(e is not None for e in errors))))
    fig.update_layout(title=title, yaxis_title=metric, height=360, margin=MARGIN,
                      uirevision="runs_comparison", showlegend=False)
    return fig


def _points(xy) -> np.ndarray:
    """Any (n, 2) list/array, including an empty list, as a float (n, 2) array."""
    return np.asarray(xy, dtype=float).reshape(-1, 2)


def _add_class_traces(fig: go.Figure, side: str, xy: np.ndarray, labels: Sequence,
                      names: Sequence[str] | None, colours: list[str], marker: dict) -> None:
    labels = np.asarray(labels)
    for index, label in enumerate(_sorted_unique(labels)):
        mask = labels == label
        fig.add_trace(go.Scatter(
            x=xy[mask, 0], y=xy[mask, 1], mode="markers",
            name=f"{side}: {_class_name(label, names)}", legendgroup=side,
            marker=dict(marker, color=colours[index % len(colours)])))


def _sorted_unique(labels: np.ndarray) -> list:
    return sorted(np.unique(labels).tolist()) if labels.size else []


def _class_name(label, names: Sequence[str] | None) -> str:
    if names is not None and isinstance(label, int) and 0 <= label < len(names):
        return str(names[label])
    return str(label)
