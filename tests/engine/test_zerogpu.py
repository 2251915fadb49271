"""ZeroGPU (orca_engine.zerogpu): the GPU request wraps the stages, is a no-op off Spaces, and a run
whose stages cross a pickling boundary, as on a ZeroGPU worker, still finishes."""
import inspect
import pickle
import sys
import types

import numpy as np
import pytest

from orca_engine import zerogpu
from orca_engine.session import Session

TINY = {"data": {"source": "iris"}, "model": {"backbone": "tiny-bert", "max_tokens": 4},
        "align": {"steps": 3, "min_steps": 1, "source_samples": 60, "samples_per_class": 8,
                  "projection_every": 0},
        "refine": {"epochs": 1, "batch_size": 16}, "evaluate": {"baselines": "none"}, "device": "cpu"}


def test_the_stages_ask_for_a_gpu_sized_to_the_stage():
    assert zerogpu.stage_events.gpu_duration is zerogpu.stage_seconds
    assert inspect.getsource(zerogpu.run_stage).count("stage_events(") == 1  # the session's path goes through it


def test_gpu_task_hands_the_function_and_duration_to_spaces(monkeypatch):
    seen = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration: (lambda fn: seen.append((fn, duration)) or fn)
    monkeypatch.setitem(sys.modules, "spaces", fake)

    def work():
        return 1
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.gpu_task(duration=42)(work) is work and seen == []  # off ZeroGPU: not even asked
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert zerogpu.gpu_task(duration=42)(work) is work and seen == [(work, 42)]
    assert work.gpu_duration == 42


def test_off_spaces_the_decorator_is_a_no_op(monkeypatch):
    spaces = pytest.importorskip("spaces")
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def work():
        yield 1
    assert spaces.GPU(duration=5)(work) is work  # what gpu_task relies on off a ZeroGPU Space
    assert inspect.isgeneratorfunction(zerogpu.stage_events) and not zerogpu.on_zerogpu()


def test_stage_seconds_grow_with_the_work_and_stay_capped(monkeypatch):
    from orca_engine.config import RunConfig
    ctx = types.SimpleNamespace(config=RunConfig.from_dict({"align": {"steps": 10}}), dataset=None)
    few = zerogpu.stage_seconds("align", ctx)
    ctx.config = RunConfig.from_dict({"align": {"steps": 400}})
    assert 30 <= few < zerogpu.stage_seconds("align", ctx) <= zerogpu.max_seconds()
    monkeypatch.setenv("ORCA_ZEROGPU_MAX_S", "45")
    assert zerogpu.stage_seconds("refine", ctx) == 45


def test_a_run_whose_stages_cross_a_process_boundary_finishes(tmp_path, monkeypatch):
    """Simulates the ZeroGPU worker: the stage gets a pickled copy of the context and its events
    and the changed context come back pickled; the session must end up with the trained model."""
    plain = zerogpu.stage_events
    crossings = []

    def across_a_pickle(name, ctx):
        copy = pickle.loads(pickle.dumps(ctx))
        assert copy is not ctx and copy.control is not ctx.control
        for item in plain(name, copy):
            crossings.append(type(item).__name__)
            yield pickle.loads(pickle.dumps(item))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(zerogpu, "stage_events", across_a_pickle)
    session = Session(runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", live_projection=False)
    run = session.start(TINY, stages=("align",))
    status = session.wait(run, timeout=300)
    assert status.state == "idle", status.error
    assert crossings.count("ContextUpdate") == 2  # prepare, align
    session.continue_run(run, stages=("refine", "evaluate"))
    status = session.wait(run, timeout=300)
    assert status.state == "finished", status.error
    assert crossings.count("ContextUpdate") == 4 and "test" in status.metrics
    x = np.zeros((2, 4), dtype=np.float32)
    assert session.predict(run, x).shape == (2, 3)
