"""UMAP layouts in a child process: off the training interpreter, recovering from a crash or hang."""
import os
import pathlib
import signal
import sys
import time

os.environ.setdefault("NUMBA_CACHE_DIR",
                      str(pathlib.Path(__file__).resolve().parents[1] / ".cache" / "numba"))

import numpy as np
import pytest

from orca_engine import projection
from orca_engine.projection.umap_process import UmapService, UmapUnavailable, service

ROOT = pathlib.Path(__file__).resolve().parents[1]


def clouds(n: int = 120, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n, d)).astype(np.float32)
    return source, source + 4.0


# A stand-in child that speaks the protocol without umap-learn: ready at once, and answers a layout
# with its init (or an error for n_epochs < 0). Crash and hang tests use it, so each restart costs
# a Python start-up, not a numba compile.
FAKE_CHILD = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from orca_engine.projection.umap_process import _read, _write
out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
_write(out, ("ready", os.getpid()))
while True:
    try:
        kind, arguments = _read(sys.stdin.buffer)
    except EOFError:
        break
    if arguments["n_epochs"] < 0:
        _write(out, ("error", "ValueError: n_epochs must be >= 0"))
    else:
        _write(out, ("ok", arguments["init"] * 1.0))
"""


@pytest.fixture
def fake_service(monkeypatch):
    """A UmapService with the stand-in child, installed as the process-wide one."""
    from orca_engine.projection import umap_process
    fake = UmapService(command=[sys.executable, "-c", FAKE_CHILD])
    monkeypatch.setattr(umap_process, "_service", fake)
    fake.start().join(30)
    assert fake.ready(), fake.failure
    yield fake
    fake.close()


def test_a_child_that_cannot_start_is_reported_and_retried_a_bounded_number_of_times():
    failing = UmapService(max_starts=2, command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    for _ in range(2):
        thread = failing.start()
        assert thread is not None
        thread.join(30)
        assert not failing.ready() and "did not get ready" in failing.failure
    assert failing.start() is None, "after max_starts the service must give up"
    with pytest.raises(UmapUnavailable, match="did not get ready"):
        failing.layout(np.zeros((5, 3)), np.zeros((5, 2)), n_epochs=5, seed=0)


def test_a_child_that_never_gets_ready_is_stopped_after_the_timeout():
    hanging = UmapService(max_starts=1, ready_timeout_s=1.0,
                          command=[sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    hanging.start().join(30)
    assert time.monotonic() - started < 10
    assert "no answer within 1 s" in hanging.failure and hanging.pid() is None


SLOW_CHILD = """
import os, pickle, struct, sys, time
out = os.fdopen(os.dup(1), "wb")

def say(message):  # the parent's protocol (umap_process._write), without importing anything heavy
    payload = pickle.dumps(message)
    out.write(struct.pack("!Q", len(payload)) + payload)
    out.flush()

for i in range(8):  # a compile twice as long as the timeout, but alive all along
    say(("alive", i))
    time.sleep(0.75)
say(("ready", os.getpid()))
sys.stdin.read()
"""


def test_a_slow_start_that_keeps_saying_it_is_alive_is_waited_for():
    # The timeout is generous against the 0.75 s between signs of life (a busy machine delays them),
    # and half the 6 s the start takes: only the heartbeats can explain the wait.
    slow = UmapService(max_starts=1, ready_timeout_s=3.0, command=[sys.executable, "-c", SLOW_CHILD])
    try:
        slow.start().join()
        assert slow.ready(), slow.failure
        assert slow.ready_seconds > 3.0
    finally:
        slow.close()


def test_layout_before_start_says_it_is_not_ready():
    with pytest.raises(UmapUnavailable, match="not ready"):
        UmapService().layout(np.zeros((5, 3)), np.zeros((5, 2)), n_epochs=5, seed=0)


def test_a_crashed_child_gives_pca_frames_then_a_fresh_child_gives_umap_again(fake_service):
    source, target = clouds()
    projector = projection.Projector("umap", n_epochs=10, first_epochs=30)
    projector.project(source, target)
    assert projector.last_method == "umap"
    first_pid = fake_service.pid()
    os.kill(first_pid, signal.SIGKILL)
    time.sleep(0.2)
    projector.project(source, target)  # must not raise: a picture never takes a run down
    assert projector.last_method == "pca" and "stopped answering" in projection.umap_unavailable_reason()
    thread = projection.warm_up_umap_in_background()  # the failed frame already asked for a new child
    assert thread is not None
    thread.join(timeout=30)
    assert projection.is_umap_ready() and projection.umap_unavailable_reason() is None
    projector.project(source, target)
    assert projector.last_method == "umap" and fake_service.pid() not in (None, first_pid)
    assert fake_service.starts == 2


def test_a_hung_child_times_out_and_is_replaced(fake_service):
    points = np.concatenate(clouds())
    hung_pid = fake_service.pid()
    os.kill(hung_pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(UmapUnavailable, match="no answer within 1 s"):
            fake_service.layout(points, points[:, :2], n_epochs=5, seed=0, timeout=1.0)
        assert time.monotonic() - started < 10 and fake_service.pid() is None
    finally:
        try:
            os.kill(hung_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    fake_service.start().join(timeout=30)
    assert fake_service.ready()
    np.testing.assert_allclose(fake_service.layout(points, points[:, :2], n_epochs=5, seed=0), points[:, :2],
                               rtol=1e-6)


def test_a_failed_layout_raises_but_keeps_the_child(fake_service):
    points = np.concatenate(clouds())
    pid = fake_service.pid()
    with pytest.raises(RuntimeError, match="n_epochs must be"):
        fake_service.layout(points, points[:, :2], n_epochs=-1, seed=0)
    assert fake_service.ready() and fake_service.pid() == pid


def test_umap_frames_are_computed_outside_the_calling_process():
    """The point of the child: the process that trains never runs umap-learn or numba itself.

    (No test in this suite imports umap-learn in-process; if one ever does, run this one first.)
    """
    thread = projection.warm_up_umap_in_background()
    assert thread is not None, projection.umap_unavailable_reason()
    thread.join()  # ends when the child is ready or has failed (hung: no heartbeat for ready_timeout_s)
    assert projection.is_umap_ready(), projection.umap_unavailable_reason()
    niceness = os.getpriority(os.PRIO_PROCESS, service().pid()) - os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness == min(service().nice, 19 - os.getpriority(os.PRIO_PROCESS, 0)), "reniced once compiled"
    source, target = clouds(n=80, d=8)
    projector = projection.Projector("umap", first_epochs=20)
    source_xy, target_xy = projector.project(source, target)
    assert projector.last_method == "umap" and source_xy.shape == target_xy.shape == (80, 2)
    assert service().pid() not in (None, os.getpid())
    assert "umap" not in sys.modules and "numba" not in sys.modules


def test_numba_cache_dir_defaults_beside_the_project_or_in_the_temp_dir(tmp_path):
    from orca_engine.projection.umap_process import numba_cache_dir
    assert numba_cache_dir(str(tmp_path)) == str(tmp_path / ".cache" / "numba")
    assert (tmp_path / ".cache" / "numba").is_dir()
    not_a_folder = tmp_path / "file"  # .cache cannot be made under a file, even by root
    not_a_folder.write_text("")
    assert numba_cache_dir(str(not_a_folder)).endswith("orca-numba-cache")
