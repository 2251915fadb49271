"""Live projection: fixed PCA basis, Procrustes snapping, UMAP warm-up/fallback, the worker."""
import json
import os
import pathlib
import threading
import time

# numba reads its cache folder when first imported (lazily, by the UMAP warm-up below).
os.environ.setdefault("NUMBA_CACHE_DIR",
                      str(pathlib.Path(__file__).resolve().parents[1] / ".cache" / "numba"))

import numpy as np
import pytest

from orca_engine import projection
from orca_engine.projection import umap_process  # where Projector looks up the UMAP service
from orca_engine.errors import ConfigError
from orca_engine.events import ProjectionFrame, event_from_dict, to_json_line
from orca_engine.projection import (METHOD_NOTES, METHODS, Projector, ProjectionWorker,
                                    rounded, sample_indices, snap_to_previous)


def clustered(n: int, d: int = 16, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = 3.0 * rng.normal(size=(k, d))
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def rms_radius(xy: np.ndarray) -> float:
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def test_every_method_has_a_note():
    assert set(METHOD_NOTES) == set(METHODS) and all(len(n) > 80 for n in METHOD_NOTES.values())


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="tsne"):
        Projector("tsne")


def test_pca_frame_shapes():
    source, _ = clustered(30)
    target, _ = clustered(20, seed=1)
    projector = Projector("pca")
    source_xy, target_xy = projector.project(source, target)
    assert source_xy.shape == (30, 2) and target_xy.shape == (20, 2)
    assert projector.last_method == "pca"


def test_pca_basis_is_fixed_so_a_target_moving_onto_the_source_gets_closer():
    source, _ = clustered(200, d=32)
    # The offset lies along the last axis, where the source barely varies: a basis fitted on the
    # source alone would not see it; one fitted on the first stacked frame must.
    shift = np.zeros(32, dtype=np.float32)
    shift[-1] = 20.0
    source[:, -1] *= 0.01
    projector = Projector("pca")
    gaps, source_frames = [], []
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        source_xy, target_xy = projector.project(source, source + shift * (1.0 - t))
        gaps.append(float(np.linalg.norm(target_xy - source_xy, axis=1).mean()))
        source_frames.append(source_xy)
    assert gaps[0] > 0.9 * 20.0, "the initial offset must be visible in 2-D"
    assert all(later < earlier for earlier, later in zip(gaps, gaps[1:]))
    assert gaps[-1] < 1e-6
    for frame in source_frames[1:]:  # same basis: the unchanged source does not move at all
        np.testing.assert_allclose(frame, source_frames[0])


def test_snap_undoes_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(0)
    previous = rng.normal(size=(50, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    reflected = rotation @ np.diag([1.0, -1.0])
    current = 3.7 * previous @ reflected + np.array([5.0, -2.0])
    np.testing.assert_allclose(snap_to_previous(current, previous), previous, atol=1e-9)


def test_snap_fits_on_the_anchor_rows_so_other_rows_keep_their_motion():
    rng = np.random.default_rng(1)
    previous = rng.normal(size=(40, 2))
    moved = previous.copy()
    moved[30:] += np.array([4.0, 0.0])  # the "target" rows really moved
    current = 0.5 * moved[:, ::-1] - 1.0  # plus an arbitrary swap/scale/shift of the picture
    snapped = snap_to_previous(current, previous, anchor=slice(0, 30))
    np.testing.assert_allclose(snapped[:30], previous[:30], atol=1e-9)
    np.testing.assert_allclose(snapped[30:] - previous[30:], np.tile([4.0, 0.0], (10, 1)),
                               atol=1e-9)


def test_rounded_keeps_four_significant_digits_of_the_frame_scale():
    xy = np.array([[123.456789, -0.00123456], [1.0 / 3.0, 99.99]])
    assert rounded(xy) == [[123.5, -0.0], [0.3, 100.0]]
    assert rounded(np.zeros((0, 2))) == []


def test_sample_indices_are_fixed_sorted_and_unique():
    first, again = sample_indices(5000, 1000, seed=3), sample_indices(5000, 1000, seed=3)
    np.testing.assert_array_equal(first, again)
    assert len(np.unique(first)) == 1000 and np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(sample_indices(10, 1000, seed=3), np.arange(10))


def test_umap_request_falls_back_to_pca_while_umap_is_not_ready(monkeypatch):
    warmups = []
    monkeypatch.setattr(umap_process, "is_umap_ready", lambda: False)
    monkeypatch.setattr(umap_process, "warm_up_umap_in_background", lambda: warmups.append(1))
    source, _ = clustered(40)
    target, _ = clustered(40, seed=1)
    umap_projector, pca_projector = Projector("umap"), Projector("pca")
    got = umap_projector.project(source, target)
    expected = pca_projector.project(source, target)
    assert umap_projector.last_method == "pca" and warmups, "must fall back and start warm-up"
    np.testing.assert_allclose(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1])


@pytest.fixture(scope="module")
def umap_ready():
    """Compiles umap-learn once for this module (~25 s with a warm NUMBA_CACHE_DIR)."""
    thread = projection.warm_up_umap_in_background()
    assert projection.warm_up_umap_in_background() is thread, "warm-up must be idempotent"
    thread.join()  # until ready or failed: the service times out a silent child
    assert projection.is_umap_ready(), projection.umap_unavailable_reason()


def test_umap_frames_after_warm_up_stay_close_when_input_is_unchanged(umap_ready):
    source, _ = clustered(150)
    target, _ = clustered(150, seed=1)
    projector = Projector("umap", n_epochs=20, first_epochs=100)
    first = np.concatenate(projector.project(source, target))
    assert projector.last_method == "umap" and first.shape == (300, 2)
    second = np.concatenate(projector.project(source, target))
    displacement = float(np.linalg.norm(second - first, axis=1).mean())
    assert displacement < 0.12 * rms_radius(first)


def test_umap_shows_a_target_moving_onto_the_source(umap_ready):
    source, _ = clustered(150, d=32)
    shift = np.zeros(32, dtype=np.float32)
    shift[-1] = 15.0
    projector = Projector("umap", n_epochs=20, first_epochs=100)
    gaps = []
    for t in (0.0, 0.5, 1.0, 1.0):
        source_xy, target_xy = projector.project(source, source + shift * (1.0 - t))
        xy = np.concatenate([source_xy, target_xy])
        gaps.append(float(np.linalg.norm(target_xy - source_xy, axis=1).mean()) / rms_radius(xy))
    assert gaps[0] > 0.5 and gaps[-1] < 0.2 * gaps[0], gaps


def test_first_umap_frame_is_snapped_onto_the_pca_frames_before_it(umap_ready, monkeypatch):
    source, _ = clustered(150)
    target, _ = clustered(150, seed=1)
    projector = Projector("umap", n_epochs=20, first_epochs=100)
    monkeypatch.setattr(umap_process, "is_umap_ready", lambda: False)
    pca_source, _ = projector.project(source, target)
    monkeypatch.undo()
    umap_source, _ = projector.project(source, target)
    assert projector.last_method == "umap"
    # Snapping maps the source centroid exactly and matches the source spread to a few percent.
    np.testing.assert_allclose(umap_source.mean(axis=0), pca_source.mean(axis=0), atol=1e-6)
    assert rms_radius(umap_source) == pytest.approx(rms_radius(pca_source), rel=0.3)


def run_worker(emit, **options) -> ProjectionWorker:
    worker = ProjectionWorker(emit, **options)
    worker.start()
    return worker


def test_worker_drops_stale_snapshots_and_ends_on_the_last_step():
    frames: list[ProjectionFrame] = []

    def slow_emit(frame: ProjectionFrame) -> None:  # a slow frame makes steps pile up
        time.sleep(0.05)
        frames.append(frame)

    worker = run_worker(slow_emit)
    source, source_labels = clustered(30)
    target, target_labels = clustered(20, seed=1)
    for step in range(20):
        worker.submit("align", step, source + step, target, source_labels, target_labels)
    assert worker.wait_idle(timeout=10)
    assert worker.stop() and not worker.is_alive()
    assert worker.submitted == 20 and 1 <= worker.frames_done < 20
    assert frames[-1].step == 19 and len(frames) == worker.frames_done


def test_worker_emits_valid_json_ready_frames():
    frames: list[ProjectionFrame] = []
    worker = run_worker(frames.append)
    source, source_labels = clustered(30)
    target, target_labels = clustered(20, seed=1)
    worker.submit("align", 7, source, target, source_labels, target_labels)
    assert worker.wait_idle(timeout=10) and worker.stop()
    (frame,) = frames
    assert isinstance(frame, ProjectionFrame) and (frame.stage, frame.step) == ("align", 7)
    assert frame.method == "pca"
    assert np.asarray(frame.source_xy).shape == (30, 2)
    assert np.asarray(frame.target_xy).shape == (20, 2)
    assert frame.source_labels == source_labels.tolist()
    record = json.loads(to_json_line(frame.to_dict()))
    assert event_from_dict(record) == frame


def test_worker_survives_a_failing_frame_and_switches_method(monkeypatch):
    monkeypatch.setattr(umap_process, "is_umap_ready", lambda: False)
    monkeypatch.setattr(umap_process, "warm_up_umap_in_background", threading.Thread)
    frames: list[ProjectionFrame] = []
    calls = []

    def flaky_emit(frame: ProjectionFrame) -> None:
        calls.append(frame.step)
        if len(calls) == 1:
            raise RuntimeError("display went away")
        frames.append(frame)

    worker = run_worker(flaky_emit)
    source, labels = clustered(20)
    worker.submit("align", 0, source, source, labels, labels)
    assert worker.wait_idle(timeout=10)
    worker.set_method("umap")
    worker.submit("align", 1, source, source, labels, labels)
    assert worker.wait_idle(timeout=10) and worker.stop()
    assert "display went away" in worker.last_error
    assert [f.step for f in frames] == [1] and frames[0].method == "pca"  # UMAP not ready yet
    with pytest.raises(ConfigError):
        worker.set_method("tsne")


def test_worker_draws_at_most_one_frame_per_interval_and_still_ends_on_the_last_step():
    frames: list[ProjectionFrame] = []
    worker = ProjectionWorker(frames.append, method="pca", min_interval_s=0.25)
    worker.start()
    source, source_labels = clustered(30)
    target, target_labels = clustered(20, seed=1)
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < 1.0:  # a fast training loop: a snapshot every ~5 ms
        worker.submit("align", step, source, target + step, source_labels, target_labels)
        step += 1
        time.sleep(0.005)
    assert worker.wait_idle(timeout=5) and worker.stop()
    assert step > 50 and 2 <= worker.frames_done <= 6, worker.frames_done
    assert frames[-1].step == step - 1


def test_worker_computes_deferred_target_features_in_its_own_thread():
    frames: list[ProjectionFrame] = []
    worker = run_worker(frames.append)
    source, labels = clustered(20)
    target, _ = clustered(20, seed=1)
    called_in = []

    def features() -> np.ndarray:
        called_in.append(threading.get_ident())
        return target

    worker.submit("align", 3, source, features, labels, labels)
    assert worker.wait_idle(timeout=10) and worker.stop()
    assert called_in == [worker.ident] and called_in[0] != threading.get_ident()
    expected = Projector("pca").project(source, target)
    np.testing.assert_allclose(frames[0].target_xy, rounded(expected[1]), rtol=1e-3, atol=1e-3)
