"""Figure builders: right traces, kept zoom (uirevision), a placeholder for empty input."""
import numpy as np
import plotly.graph_objects as go
import pytest

from app import plots
from orca_engine.events import ProjectionFrame


def frame_dict() -> dict:
    rng = np.random.default_rng(0)
    return ProjectionFrame(stage="align", step=12, method="umap",
                           source_xy=rng.normal(size=(30, 2)).tolist(),
                           target_xy=rng.normal(size=(20, 2)).tolist(),
                           source_labels=[i % 3 for i in range(30)],
                           target_labels=[i % 2 for i in range(20)]).to_dict()


def is_placeholder(fig: go.Figure, message: str) -> bool:
    return len(fig.data) == 0 and fig.layout.annotations[0].text == message


EMPTY_CALLS = {
    "loss_curve": lambda: plots.loss_curve([], [], title="Alignment objective"),
    "training_curves": lambda: plots.training_curves([], [], [], {}, title="Alignment objective"),
    "projection": lambda: plots.projection_figure([], [], [], [], title="Alignment objective"),
    "heatmap": lambda: plots.class_distance_heatmap(np.zeros((0, 0)), [], [],
                                                    title="Alignment objective"),
    "confusion": lambda: plots.confusion_matrix_figure(np.zeros((0, 0)),
                                                       title="Alignment objective"),
    "predicted_vs_true": lambda: plots.predicted_vs_true([], [], title="Alignment objective"),
    "runs": lambda: plots.runs_comparison([], title="Alignment objective"),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CALLS))
def test_empty_input_gives_a_placeholder_that_says_what_will_appear(name):
    assert is_placeholder(EMPTY_CALLS[name](), "Alignment objective")


def test_loss_curve_draws_one_line_and_keeps_zoom():
    fig = plots.loss_curve([0, 1, 2], [3.0, 2.0, 1.5])
    assert len(fig.data) == 1 and list(fig.data[0].y) == [3.0, 2.0, 1.5]
    assert fig.layout.uirevision == "loss_curve"


def test_training_curves_put_loss_and_each_validation_metric_on_their_own_panel():
    fig = plots.training_curves([1, 2, 3], [1.0, 0.8, 0.7], [1, 2],
                                {"accuracy": [0.5, 0.6], "f1": [0.4, 0.5]})
    assert [t.name for t in fig.data] == ["training loss", "validation accuracy", "validation f1"]
    assert fig.data[0].xaxis == "x" and fig.data[1].xaxis == "x2"  # steps vs epochs
    assert fig.layout.uirevision == "training_curves"


def test_projection_tells_sides_apart_by_marker_and_classes_by_colour():
    frame = frame_dict()
    fig = plots.frame_figure(frame, class_names=["cat", "dog"])
    names = [t.name for t in fig.data]
    assert names == ["source: 0", "source: 1", "source: 2", "target: cat", "target: dog"]
    assert {t.marker.symbol for t in fig.data[:3]} == {"circle"}
    assert {t.marker.symbol for t in fig.data[3:]} == {"x"}
    assert sum(len(t.x) for t in fig.data[:3]) == 30 and sum(len(t.x) for t in fig.data[3:]) == 20
    assert len({t.marker.color for t in fig.data[3:]}) == 2
    assert fig.layout.uirevision == "projection"
    assert "UMAP" in fig.layout.title.text and "step 12" in fig.layout.title.text


def test_projection_axis_ranges_grow_at_once_shrink_only_when_much_too_big_and_pin_the_view():
    first = plots.frame_axis_ranges([[0.0, 0.0]], [[1.0, 2.0]], margin=0.0)
    assert first == ((0.0, 1.0), (0.0, 2.0))
    grown = plots.frame_axis_ranges([[0.5, 0.5]], [[3.0, 1.6]], previous=first, margin=0.0)
    assert grown == ((0.0, 3.0), (0.0, 2.0))
    fig = plots.projection_figure([[0.5, 0.5]], [[3.0, 1.6]], [0], [0], axis_ranges=grown)
    assert tuple(fig.layout.xaxis.range) == (0.0, 3.0) and fig.layout.xaxis.autorange is False
    nudged = plots.frame_axis_ranges([[0.2, 0.1]], [[2.0, 1.9]], previous=grown, margin=0.0)
    assert nudged == grown, "a frame filling most of the view leaves the axes alone"
    contracted = plots.frame_axis_ranges([[0.0, 0.0]], [[1.0, 1.5]], previous=grown, margin=0.0)
    assert contracted == ((0.0, 1.0), (0.0, 2.0)), "x refits (1 < half of 3); y keeps its union (1.5 >= 1)"


def test_class_distance_heatmap_has_target_rows_and_source_columns():
    matrix = np.arange(6.0).reshape(2, 3)
    fig = plots.class_distance_heatmap(matrix, ["a", "b"], ["x", "y", "z"], step=4)
    (heat,) = fig.data
    assert list(heat.y) == ["a", "b"] and list(heat.x) == ["x", "y", "z"]
    assert np.asarray(heat.z).shape == (2, 3) and "step 4" in fig.layout.title.text
    assert fig.layout.uirevision == "class_distances"


def test_confusion_matrix_colours_row_shares_and_prints_counts():
    fig = plots.confusion_matrix_figure(np.array([[8, 2], [0, 10]]), ["no", "yes"])
    (heat,) = fig.data
    np.testing.assert_allclose(np.asarray(heat.z), [[0.8, 0.2], [0.0, 1.0]])
    assert np.asarray(heat.text).tolist() == [[8, 2], [0, 10]]


def test_predicted_vs_true_flattens_dense_targets_and_subsamples():
    y = np.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    small = plots.predicted_vs_true(y, y + 1)
    assert len(small.data) == 2 and len(small.data[0].x) == 24  # points + the y = x line
    big = plots.predicted_vs_true(np.zeros(10_000), np.ones(10_000), max_points=500)
    assert len(big.data[0].x) == 500


def test_runs_comparison_draws_one_bar_per_run_with_error_bars():
    fig = plots.runs_comparison([{"label": "aligned", "mean": 0.8, "std": 0.02},
                                 {"label": "not aligned", "mean": 0.7, "std": None}],
                                metric="accuracy")
    (bars,) = fig.data
    assert list(bars.x) == ["aligned", "not aligned"] and list(bars.error_y.array) == [0.02, 0.0]
    assert fig.layout.yaxis.title.text == "accuracy"
