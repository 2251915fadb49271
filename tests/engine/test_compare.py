"""The comparison grid: a tiny grid end to end, what it shares, the classical baseline, and selection
that never looks at the test split. Tiny random backbone, two-step alignment, one or two epochs."""
import json

import numpy as np
import pytest

import orca_engine.data as data_module
from orca_engine.baselines import classical_baseline, flattened
from orca_engine.compare import (GridSpec, comparison_table, run_grid, summarise_runs, table_markdown,
                                 variant_label, write_outputs)
from orca_engine.config import RunConfig
from orca_engine.errors import ConfigError

pytestmark = pytest.mark.usefixtures("no_runs_in_background")  # runs compared bit for bit

TINY = {"data": {"source": "breast_cancer"}, "model": {"backbone": "tiny-bert", "max_tokens": 8},
        "align": {"steps": 2, "source_samples": 40, "samples_per_class": 4, "projection_every": 0},
        "refine": {"epochs": 1, "batch_size": 64}, "device": "cpu"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: tiny models gain nothing from two, and on a shared machine they lose a lot."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _base(**changes) -> RunConfig:
    return RunConfig.from_dict(TINY).with_overrides(changes)


@pytest.fixture(scope="module")
def tiny_grid(tmp_path_factory):
    spec = GridSpec(variants=("orca", "scope-frozen-body"), seeds=(0, 1), fraction_variants=())
    return run_grid(_base(), spec, tmp_path_factory.mktemp("grid"), cache_dir=tmp_path_factory.mktemp("cache"))


def test_tiny_grid_table_has_a_row_per_variant_with_finite_numbers(tiny_grid):
    assert [c.ok for c in tiny_grid.cells] == [True] * 4, [c.error for c in tiny_grid.cells]
    rows = summarise_runs(tiny_grid.run_dirs)
    assert sorted((r["variant"], r["seed"]) for r in rows) == [("orca", 0), ("orca", 1), ("scope-frozen-body", 0),
                                                               ("scope-frozen-body", 1)]
    table = comparison_table(rows)
    assert [t["variant"] for t in table] == ["orca", "scope-frozen-body"]
    for t in table:
        assert t["seeds"] == 2 and t["metric"] == "accuracy"
        for key in ("test_mean", "test_std", "validation_mean", "otdd_before_mean", "otdd_after_mean", "wall_s_mean"):
            assert np.isfinite(t[key]), (t["variant"], key, t[key])
    assert np.isfinite(table[1]["delta_mean"]) and table[1]["wins"].endswith("/2")
    text = table_markdown(table, ["Command: test"])
    assert "| orca | 1 | 2 |" in text and "| scope-frozen-body | 1 | 2 |" in text


def test_grid_loads_the_body_once_and_reuses_each_alignment(tiny_grid):
    assert tiny_grid.model_loads == 1
    assert tiny_grid.alignments_reused == 2  # the frozen-body runs start from orca's aligned embedder
    by_run = {r["run"]: r for r in summarise_runs(tiny_grid.run_dirs)}
    for seed in (0, 1):
        orca, frozen = (next(r for r in by_run.values() if r["variant"] == v and r["seed"] == seed)
                        for v in ("orca", "scope-frozen-body"))
        assert not orca["align_reused"] and frozen["align_reused"]  # the recipe aligns, the scope reuses it
        assert frozen["otdd_after"] == orca["otdd_after"]
    config = json.loads((tiny_grid.run_dirs[1].parent / by_run[frozen["run"]]["run"] / "config.json").read_text())
    assert config["refine"]["scope"] == "frozen-body" and config["seed"] == 1


def test_every_variant_of_a_seed_starts_from_the_same_weights():
    import torch
    from orca_engine.compare.sharing import ModelPool
    from orca_engine.model import ModelShapes
    shapes = ModelShapes("tabular", "classification", (30,), (), 2)
    pool = ModelPool(shapes, torch.device("cpu"))
    first = {k: v.clone() for k, v in pool.model_for(_base(**{"align.objective": "none"})).state_dict().items()}
    model = pool.model_for(_base())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # what training does to the shared model
    again = pool.model_for(_base(**{"refine.scope": "layernorm"})).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    other_seed = pool.model_for(_base(seed=1)).state_dict()
    assert not torch.equal(first["head.linear.weight"], other_seed["head.linear.weight"])  # seeds differ
    assert pool.loads == 1


@pytest.mark.parametrize("source, estimator", [("breast_cancer", "LogisticRegression"), ("diabetes", "Ridge")])
def test_classical_baseline_is_fitted_on_the_training_split_only(monkeypatch, source, estimator):
    import sklearn.linear_model as linear
    seen = []
    cls = getattr(linear, estimator)
    original = cls.fit
    monkeypatch.setattr(cls, "fit", lambda self, x, y, *a, **k: (seen.append(np.array(x)), original(self, x, y))[1])
    ds = data_module.load_dataset(_base(**{"data.source": source, "data.train_fraction": 0.5}).data, seed=0)
    result = classical_baseline(ds)
    assert seen and all(np.array_equal(x, flattened(ds.x_train)) for x in seen)
    assert result.train_samples == len(ds.x_train) and all(np.isfinite(v) for v in result.test.values())


def _poisoned(load):
    """load_dataset whose test split is noise with shuffled labels: anything selecting on it changes."""
    def load_poisoned(cfg, seed):
        ds = load(cfg, seed)
        rng = np.random.default_rng(123)
        ds.x_test = rng.normal(0, 5, ds.x_test.shape).astype(np.float32)
        ds.y_test = rng.permutation(1 - ds.y_test)
        return ds
    return load_poisoned


def test_selection_never_touches_the_test_split(monkeypatch, tmp_path):
    spec = GridSpec(variants=("orca", "classical"), seeds=(0,), fraction_variants=())
    base = _base(**{"refine.epochs": 3})
    outcomes = []
    for poison in (False, True):
        if poison:
            monkeypatch.setattr(data_module, "load_dataset", _poisoned(data_module.load_dataset))
        result = run_grid(base, spec, tmp_path / str(poison), cache_dir=tmp_path / "cache")
        metrics = [json.loads((d / "metrics.json").read_text()) for d in result.run_dirs]
        outcomes.append({m["compare"]["variant"]: m for m in metrics})
    clean, poisoned = outcomes
    assert clean["orca"]["validation"] == poisoned["orca"]["validation"]
    assert clean["orca"]["refine"] == poisoned["orca"]["refine"]  # same epochs, same chosen checkpoint
    assert clean["orca"]["align"] == poisoned["orca"]["align"]
    assert clean["classical"]["baseline"]["choice"] == poisoned["classical"]["baseline"]["choice"]
    assert clean["classical"]["validation"] == poisoned["classical"]["validation"]
    assert clean["orca"]["test"] != poisoned["orca"]["test"]  # the poison did reach the test scoring
    assert clean["classical"]["test"] != poisoned["classical"]["test"]


def test_summaries_label_runs_made_outside_the_grid_and_skip_unfinished_ones():
    def record(objective="otdd-exact", scope="full", pretrained=True, test=None, source="digits", epochs=3):
        config = {"data": {"source": source, "train_fraction": 1.0}, "seed": 3, "model": {
            "backbone": "minilm", "pretrained": pretrained, "embedder_init": "copy"},
            "align": {"objective": objective}, "refine": {"scope": scope, "epochs": epochs}}
        metrics = {"test": test if test is not None else {"accuracy": 0.9}, "validation": {"accuracy": 0.8},
                   "data": {"task": "classification"}}
        return {"config": config, "metrics": metrics, "run": "r"}
    rows = summarise_runs([record(), record("mmd"), record(pretrained=False), record("mmd", "layernorm"),
                           record(test={})])
    assert [r["variant"] for r in rows] == ["orca", "align-mmd", "random-body", "objective=mmd, scope=layernorm"]
    assert rows[0]["test"] == 0.9 and rows[0]["validation"] == 0.8 and rows[0]["seed"] == 3
    mixed = comparison_table(summarise_runs([record(), record(source="iris"), record(epochs=10)]))
    assert len(mixed) == 3 and all(t["seeds"] == 1 for t in mixed)  # other data or budget: never averaged
    assert variant_label({"align": {"objective": "none"}, "model": {"embedder_init": "random", "pretrained": True},
                          "refine": {"scope": "full"}}) == "no-align-random-init"
    assert variant_label({"align": {"objective": "otdd-exact", "steps": 0}, "model": {"embedder_init": "copy",
                          "pretrained": True}, "refine": {"scope": "full"}}) == "no-align"


def test_grid_spec_rejects_unknown_variants_and_bad_fractions():
    with pytest.raises(ConfigError, match="no-such-variant"):
        GridSpec(variants=("no-such-variant",))
    with pytest.raises(ConfigError, match="fractions"):
        GridSpec(fractions=(0.0,))
    spec = GridSpec(variants=("orca", "align-mmd"), seeds=(0, 1), fractions=(0.5,), fraction_variants=("orca",))
    cells = spec.cells()
    assert sorted((c.variant.name, c.fraction) for c in cells if c.seed == 0) == [
        ("align-mmd", 1.0), ("orca", 0.5), ("orca", 1.0)]


def test_cli_compare_writes_tables(tmp_path, capsys):
    from orca_engine.cli import main
    out = tmp_path / "cmp"
    code = main(["compare", "--data", "iris", "--backbone", "tiny-bert", "--variants", "classical", "--seeds", "0,1",
                 "--fractions", "0.5", "--no-plots", "--out", str(out), "--set", "refine.epochs=1"])
    assert code == 0
    table = (out / "table.md").read_text()
    assert "| classical | 1 | 2 |" in table and "| classical | 0.5 | 2 |" in table
    assert "--set refine.epochs=1" in table and "Machine:" in table
    grid = json.loads((out / "grid.json").read_text())
    assert grid["overrides"]["refine.epochs"] == 1 and grid["cells"] == 4
    assert (out / "runs.csv").read_text().count("\n") == 5


def test_write_outputs_draws_the_plots(tiny_grid, tmp_path):
    pytest.importorskip("matplotlib")
    written = write_outputs(tmp_path, tiny_grid.run_dirs, {"preset": "test"}, title="tiny")
    for name in ("variants.png", "otdd_vs_metric.png", "table.md", "table.csv"):
        assert written[name].stat().st_size > 0, name
