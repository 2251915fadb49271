"""RunContext.release: frees a run's large objects, and costs nothing when there is nothing to free."""
import gc
import weakref

import pytest

from orca_engine.config import RunConfig
from orca_engine.stages.context import RunContext


class _Big:
    """Stands in for a model: caught in a reference cycle, as a traceback's frames catch one."""

    def __init__(self):
        self.me = self


@pytest.fixture
def collections(monkeypatch):
    calls = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or real(*a))
    return calls


def _context(tmp_path) -> RunContext:
    return RunContext(config=RunConfig.from_dict({"data": {"source": "digits"}}), run_dir=tmp_path)


def test_release_frees_a_model_held_in_a_cycle(tmp_path, collections):
    ctx = _context(tmp_path)
    ctx.device, ctx.model = "cpu", _Big()
    alive = weakref.ref(ctx.model)
    gc.disable()  # only the release may collect the cycle
    try:
        ctx.release()
        assert ctx.model is None and alive() is None and len(collections) == 1
    finally:
        gc.enable()


def test_release_skips_the_collection_when_nothing_is_held(tmp_path, collections):
    queued = _context(tmp_path)  # cancelled while queued: `prepare` never began
    queued.release()
    assert collections == []
    ran = _context(tmp_path)
    ran.device, ran.dataset = "cpu", object()
    ran.release()
    ran.release()  # the worker ended it, then the session dropped it
    assert len(collections) == 1
    ran.model = object()  # anything held again is collected again
    ran.release()
    assert len(collections) == 2


def test_a_run_that_failed_before_holding_anything_is_still_collected(tmp_path, collections):
    ctx = _context(tmp_path)
    ctx.device = "cpu"  # `prepare` began, then failed: its garbage may sit in cycles
    ctx.release()
    assert len(collections) == 1
