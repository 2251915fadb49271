"""The headline check on the real embedded backbone: digits with the default settings.

Plain logistic regression reaches about 0.96 on this split; the issue asks ORCA with MiniLM to
reach at least 0.9 with the defaults (docs/BENCHMARKS.md has the time and the figure measured).
That run takes about three minutes on 2 cores, so it is opt-in (`pytest -m quality`, also measured
by `python bench/end_to_end.py`); the forty-sample check below runs in the default suite.
"""
import pytest

from orca_engine.session import Session


@pytest.mark.slow
@pytest.mark.quality  # opt-in (pytest -m quality): three minutes of the suite's fifteen on a busy machine
def test_minilm_on_digits_with_default_settings_reaches_ninety_percent(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "digits"}})
    status = session.wait(run, timeout=1200)
    assert status.state == "finished", status.error
    metrics = status.metrics
    assert metrics["model"]["backbone"] == "minilm" and metrics["source_proxy"]["proxy"] == "wordnet"
    assert metrics["align"]["otdd_after"] < metrics["align"]["otdd_before"]
    assert metrics["test"]["accuracy"] >= 0.9, metrics["test"]


@pytest.mark.slow
def test_a_forty_sample_two_class_set_is_learned_with_the_defaults(tmp_path):
    """The data-limited regime ORCA claims: 40 training samples that a linear model separates. With
    the old epoch budget (two steps an epoch) this reached chance; the step budget must learn it."""
    import numpy as np
    rng = np.random.default_rng(11)
    pattern = np.sin(np.linspace(0, 4 * np.pi, 64))

    def make(n):
        y = np.repeat([0, 1], n // 2)
        x = rng.normal(0, 1, (n, 1, 64)) + np.where(y == 1, 0.8, -0.8)[:, None, None] * pattern
        return x.astype(np.float32), np.asarray(["calm", "wave"])[y]
    (x_train, y_train), (x_test, y_test) = make(40), make(100)
    path = tmp_path / "two-class.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", live_projection=False)
    run = session.start({"data": {"source": str(path)}})
    status = session.wait(run, timeout=1200)
    assert status.state == "finished", status.error
    metrics = status.metrics
    assert metrics["refine_budget"]["total_steps"] >= 300 and metrics["refine_budget"]["batch_size"] == 8
    linear = next(r for r in metrics["baselines"]["results"] if r["model"] == "logistic regression")
    assert linear["test"]["accuracy"] >= 0.9  # the set is linearly separable, as promised
    assert metrics["test"]["accuracy"] >= 0.8, metrics["test"]
