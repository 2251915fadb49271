"""A comparison grid fanned out over a local Ray (2 CPUs): the same runs, run for run, as the serial
grid at the same seeds, with alignments still shared inside each (seed, fraction) group."""
import json

import pytest

from orca_engine.compare import GridSpec, run_grid
from orca_engine.compare.executors import RayExecutor, SerialExecutor, groups_of, make_executor
from orca_engine.compare.grid import ordered_cells
from orca_engine.config import RunConfig
from orca_engine.errors import ConfigError

pytestmark = pytest.mark.usefixtures("no_runs_in_background")  # runs compared bit for bit

TINY = {"data": {"source": "breast_cancer"}, "model": {"backbone": "tiny-bert", "max_tokens": 8},
        "align": {"steps": 2, "source_samples": 40, "samples_per_class": 4, "projection_every": 0},
        "refine": {"epochs": 1, "batch_size": 64}, "evaluate": {"baselines": "none"}, "device": "cpu"}
SPEC = GridSpec(variants=("orca", "scope-frozen-body", "classical"), seeds=(0, 1), fraction_variants=())


def test_executor_names_are_parsed_and_unknown_ones_refused():
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("ray").address is None
    assert make_executor("ray:10.0.0.1:6379", 1).address == "10.0.0.1:6379"
    assert make_executor("ray:auto", 1).gpus_per_task == 1
    with pytest.raises(ConfigError, match="serial"):
        make_executor("dask")


def test_groups_are_the_cells_sharing_a_seed_and_fraction():
    cells = ordered_cells(SPEC, RunConfig.from_dict(TINY))
    groups = groups_of(cells)
    assert [len(g) for g in groups] == [3, 3]
    assert [{c.seed for c in g} for g in groups] == [{0}, {1}]


def _by_label(result) -> dict:
    return {c.cell.label: json.loads((c.run_dir / "metrics.json").read_text()) for c in result.cells}


@pytest.mark.slow
def test_ray_grid_equals_the_serial_grid_run_for_run(tmp_path):
    ray = pytest.importorskip("ray")
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray task runs on one thread; the same here makes the runs comparable bit for bit
    try:
        base = RunConfig.from_dict(TINY)
        serial = run_grid(base, SPEC, tmp_path / "serial", cache_dir=tmp_path / "cache")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        lines = []
        fanned = run_grid(base, SPEC, tmp_path / "ray", progress=lines.append, cache_dir=tmp_path / "cache",
                          executor="ray")
    finally:
        torch.set_num_threads(before)
        ray.shutdown()
    assert [c.ok for c in fanned.cells] == [True] * 6, [c.error for c in fanned.cells]
    assert [c.cell.label for c in fanned.cells] == [c.cell.label for c in serial.cells]
    assert len(lines) == 6 and all(c.run_dir.parent == tmp_path / "ray" / "runs" for c in fanned.cells)
    assert fanned.alignments_reused == serial.alignments_reused == 2  # frozen-body reuses orca's alignment
    assert fanned.model_loads == 2  # one body per task (serial: one for the grid)
    one, other = _by_label(serial), _by_label(fanned)
    for label, m in one.items():
        assert other[label]["test"] == pytest.approx(m["test"], abs=1e-6), label
        assert other[label]["validation"] == pytest.approx(m["validation"], abs=1e-6), label
        if "align" in m:
            assert other[label]["align"]["objective_after"] == pytest.approx(m["align"]["objective_after"],
                                                                             abs=1e-6), label
    for cell in fanned.cells:  # each run folder came back whole from its task
        assert {"config.json", "events.jsonl", "metrics.json"} <= {p.name for p in cell.run_dir.iterdir()}
