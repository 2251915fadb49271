"""The headline check on the real embedded backbone: digits with the default settings.

Plain logistic regression reaches about 0.96 on this split; the issue asks ORCA with MiniLM to
reach at least 0.9 with the defaults (docs/BENCHMARKS.md has the time and the figure measured).
"""
import pytest

from orca_engine.session import Session


@pytest.mark.slow
def test_minilm_on_digits_with_default_settings_reaches_ninety_percent(tmp_path):
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    run = session.start({"data": {"source": "digits"}})
    status = session.wait(run, timeout=1200)
    assert status.state == "finished", status.error
    metrics = status.metrics
    assert metrics["model"]["backbone"] == "minilm" and metrics["source_proxy"]["proxy"] == "wordnet"
    assert metrics["align"]["otdd_after"] < metrics["align"]["otdd_before"]
    assert metrics["test"]["accuracy"] >= 0.9, metrics["test"]
