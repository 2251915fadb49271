"""Refinement's input augmentation and weight averaging: label-preserving, seeded, never on dense tasks."""
import json

import pytest
import torch

from orca_engine.session import Session
from orca_engine.stages.augment import AUTO_MIN_EPOCHS, applies, describe, make_augmentation, shift_image, \
    shift_sequence


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_a_sequence_shift_moves_each_sample_as_a_whole_and_repeats_its_edges():
    x = torch.arange(40, dtype=torch.float32).view(1, 1, 40).repeat(16, 2, 1)  # (B, C, L) ramps
    x[:, 1] *= -1
    out = shift_sequence(x, 0.1, _gen())
    assert out.shape == x.shape
    shifts = set()
    for b in range(16):
        s = int(x[b, 0, 20] - out[b, 0, 20])  # a ramp's value tells how far it moved
        assert abs(s) <= 4
        shifts.add(s)
        expected = torch.arange(40).sub(s).clamp(0, 39).float()
        assert torch.equal(out[b, 0], expected) and torch.equal(out[b, 1], -expected)  # channels move together
    assert len(shifts) > 1  # samples move independently


def test_an_image_translation_keeps_shape_and_moves_rows_and_columns():
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8).repeat(32, 3, 1, 1)
    out = shift_image(x, 0.25, _gen(1))
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    assert torch.equal(out[:, 0], out[:, 2])  # every channel of a sample moves alike


def test_augmentation_is_seeded_and_skips_dense_tasks_and_none():
    x = torch.randn(8, 1, 50)
    a = make_augmentation("auto", "sequence", "classification", _gen(3))(x)
    b = make_augmentation("auto", "sequence", "classification", _gen(3))(x)
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert make_augmentation("auto", "sequence", "dense", _gen()) is None
    assert make_augmentation("none", "image", "classification", _gen()) is None
    rows = torch.zeros(64, 5)
    noisy = make_augmentation("auto", "tabular", "regression", _gen())(rows)
    assert 0.05 < float(noisy.std()) < 0.2  # a tenth of a standardised feature's spread


def test_an_augmentation_probability_changes_that_share_of_the_samples_and_passes_the_rest():
    x = torch.randn(200, 1, 50)
    out = make_augmentation("on", "sequence", "classification", _gen(4), probability=0.5)(x)
    unchanged = [torch.equal(out[i], x[i]) for i in range(len(x))]
    assert 60 < sum(unchanged) < 140  # about half pass through exactly
    again = make_augmentation("on", "sequence", "classification", _gen(4), probability=0.5)(x)
    assert torch.equal(out, again)  # seeded, the choice of samples included
    assert make_augmentation("on", "sequence", "classification", _gen(), probability=0.0) is None


def _tiny(tmp_path, **refine):
    return {"data": {"source": "synthetic-signals", "train_fraction": 0.1}, "model": {"backbone": "tiny-bert"},
            "align": {"steps": 0}, "evaluate": {"baselines": "none"},
            "refine": {"epochs": 2, "batch_size": 8, "eval_every": 4, "augment": "on", **refine}}


def _weights(session, run):
    from safetensors.torch import load_file
    return load_file(str(session.run_dir(run) / "model.safetensors"))


def test_weight_averaging_keeps_the_average_not_the_last_weights(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    runs = {}
    for ema in (0.0, 0.9):
        run = session.start(_tiny(tmp_path, ema=ema))
        status = session.wait(run, timeout=300)
        assert status.state in ("finished", "idle"), status.error
        runs[ema] = run
    metrics = json.loads((session.run_dir(runs[0.9]) / "metrics.json").read_text())
    assert metrics["refine_budget"]["augmentation"].startswith("time shift")  # refine.augment = on, at 2 epochs
    plain, averaged = _weights(session, runs[0.0]), _weights(session, runs[0.9])
    assert plain.keys() == averaged.keys()
    # same seed, same batches: only the averaging differs, so the kept weights must too
    assert any(not torch.equal(plain[k], averaged[k]) for k in plain)


def test_auto_augments_only_a_budget_that_passes_over_the_data_many_times():
    """Augmentation fights memorisation: on when each sample is seen often (small data), off when
    the budget is a few epochs (larger data), where it slowed learning (digits 0.97 -> 0.86)."""
    few, many = AUTO_MIN_EPOCHS - 11, AUTO_MIN_EPOCHS + 50
    assert not applies("auto", "image", "classification", epochs=few)
    assert applies("auto", "image", "classification", epochs=many)
    assert applies("on", "image", "classification", epochs=few)
    assert not applies("none", "sequence", "classification", epochs=many)
    assert not applies("on", "sequence", "dense", epochs=many)
    assert make_augmentation("auto", "sequence", "classification", _gen(), epochs=few) is None
    assert make_augmentation("auto", "sequence", "classification", _gen(), epochs=many) is not None
    off = describe("auto", "image", "classification", epochs=few)
    assert off.startswith("none (automatic)") and f"{few}" in off and "refine.augment = on" in off
    assert describe("auto", "image", "classification", epochs=many).startswith("translation")
    assert "refine.augment = on" in describe("on", "tabular", "classification", epochs=few)


def test_a_run_records_why_auto_left_augmentation_off(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start(_tiny(tmp_path, augment="auto"))  # 2 epochs: far below the threshold
    assert session.wait(run, timeout=300).state in ("finished", "idle")
    metrics = json.loads((session.run_dir(run) / "metrics.json").read_text())
    assert metrics["refine_budget"]["augmentation"].startswith("none (automatic)")


# -- test-time augmentation (refine.tta) ---------------------------------------------------------

def test_shifted_views_are_the_input_then_copies_moved_both_ways_with_edges_repeated():
    from orca_engine.model import shifted_views
    x = torch.arange(40, dtype=torch.float32).view(1, 1, 40).repeat(3, 2, 1)  # (B, C, L) ramps
    views = shifted_views(x, 0.05)  # 2 positions
    assert views.shape == (9, 2, 40)
    assert torch.equal(views[:3], x)
    assert torch.equal(views[3, 0], torch.arange(40).sub(2).clamp(0, 39).float())
    assert torch.equal(views[6, 0], torch.arange(40).add(2).clamp(0, 39).float())
    image = torch.randn(2, 3, 16, 16)
    assert shifted_views(image, 1 / 16).shape == (10, 3, 16, 16)  # itself, +-1 row, +-1 column
    assert shifted_views(torch.randn(2, 1, 5), 0.05).shape == (2, 1, 5)  # too short to move: itself only


def test_tta_rules_follow_augmentation_and_never_touch_dense_tasks():
    from orca_engine.stages.augment import test_time_shift
    assert test_time_shift("auto", "sequence", "classification", augmented=True) == pytest.approx(0.05)
    assert test_time_shift("auto", "sequence", "classification", augmented=False) == 0
    assert test_time_shift("auto", "image", "classification", augmented=True) == 0
    assert test_time_shift("on", "image", "regression", augmented=False) > 0
    assert test_time_shift("on", "sequence", "dense", augmented=True) == 0
    assert test_time_shift("on", "tabular", "classification", augmented=True) == 0
    assert test_time_shift("none", "sequence", "classification", augmented=True) == 0


def test_an_eval_model_with_tta_averages_its_outputs_over_the_shifted_copies():
    from orca_engine.model import build_model, shifted_views
    model = build_model(modality="sequence", task="classification", input_shape=(1, 60), output_shape=(3,),
                        num_outputs=3, backbone_name="tiny-bert", pretrained=False)
    x = torch.randn(4, 1, 60)
    with torch.no_grad():
        plain = model(x)
        model.test_time_shift = 0.05
        averaged = model(x)
        by_hand = torch.stack([model.head(model.backbone(model.embedder(v))) for v in
                               shifted_views(x, 0.05).split(4)]).mean(0)
        model.train()
        training = model(x[:1])
    assert averaged.shape == plain.shape == (4, 3)
    assert not torch.allclose(averaged, plain)
    assert torch.allclose(averaged, by_hand, atol=1e-5)
    assert training.shape == (1, 3)  # training steps see one copy: the batch is augmented instead


def test_a_saved_run_predicts_with_the_tta_it_was_validated_and_tested_with(tmp_path):
    import numpy as np

    from orca_engine.runs import load_run
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start(_tiny(tmp_path, tta="on"))
    assert session.wait(run, timeout=300).state in ("finished", "idle")
    folder = session.run_dir(run)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["refine_budget"]["test_time_augmentation"].startswith("outputs averaged")
    assert json.loads((folder / "model.json").read_text())["test_time_shift"] == pytest.approx(0.05)
    loaded = load_run(folder)
    assert loaded.model.test_time_shift == pytest.approx(0.05)
    x = np.random.default_rng(0).normal(size=(5, *loaded.build_info.input_shape)).astype(np.float32)
    assert np.allclose(loaded.predict(x), session.predict(run, x), atol=1e-5)
    loaded.model.test_time_shift = 0.0
    assert not np.allclose(loaded.predict(x), session.predict(run, x), atol=1e-5)
