"""UMAP layouts computed in a child process, so live frames never compete for the trainer's GIL.

umap-learn's layout runs in numba code that holds the GIL for each epoch, and its JIT warm-up
is pure Python for 15-45 s. In a thread of the training process both steal the training
thread's interpreter time (measured: +13% alignment time at one UMAP frame a second on two
cores, docs/BENCHMARKS.md). A child process has its own interpreter; once compiled it runs at
a lower CPU priority (`NICE`), so on a busy machine the kernel gives the trainer's threads the
cores first and frames use what is left. It compiles at normal priority (renicing only
afterwards): a one-off compile at nice 10 on a loaded machine took many minutes.

While compiling, the child says it is alive every `HEARTBEAT_S` seconds; the parent gives up
only after `ready_timeout_s` seconds *without a sign of life*, so a slow compile on a busy
machine is waited for and a hung child is not.

One child serves every run of the process (`service()`); requests are answered one at a time,
which is what a single-threaded UMAP layout does anyway. The child is started by
`UmapService.start()` (the app calls it at start-up through `warm_up_umap_in_background`),
compiles umap-learn, then says it is ready (the child's side is `umap_child`). If it fails to start, crashes or hangs, the
service says why (`failure`), later requests raise `UmapUnavailable`, and the next `start()`
spawns a fresh child, up to `MAX_STARTS` times per process.

The protocol is length-prefixed pickles over the child's stdin and a duplicate of its stdout
(its own stdout then points at stderr, so library prints cannot corrupt the stream). Only this
module's two ends ever read those pipes.
"""
from __future__ import annotations

import atexit
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

# CPU priority of the child (0 = the trainer's, 19 = lowest). At 10 the kernel's fair share of a
# contended core is about 10:1 in the trainer's favour, yet an idle core runs frames at full
# speed (docs/BENCHMARKS.md, "Alignment slowdown").
NICE = int(os.environ.get("ORCA_UMAP_NICE", "10"))
MAX_STARTS = 3
READY_TIMEOUT_S = 60.0  # silence (no heartbeat) after which a starting child counts as hung
HEARTBEAT_S = 2.0
_HEADER = struct.Struct("!Q")


class UmapUnavailable(RuntimeError):
    """The UMAP child is not running (not started, still compiling, crashed or timed out)."""


def _write(stream: BinaryIO, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read(stream: BinaryIO) -> object:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))  # only from our own child (see module doc)


class UmapService:
    """A lazily started child process that computes `umap_layout.umap_layout` calls."""

    def __init__(self, nice: int = NICE, max_starts: int = MAX_STARTS,
                 command: list[str] | None = None, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.nice = nice
        self.max_starts = max_starts
        # The child's command line; tests swap in a failing one.
        self.command = command or [sys.executable, "-m", "orca_engine.projection.umap_child", str(nice)]
        self.ready_timeout_s = ready_timeout_s
        self.starts = 0
        self.failure: str | None = None
        self.ready_seconds: float | None = None  # from spawning the latest child to its being ready
        self._lock = threading.Lock()  # guards the fields below
        self._call_lock = threading.Lock()  # one request in flight
        self._process: subprocess.Popen | None = None
        self._ready = threading.Event()
        self._starter: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> threading.Thread | None:
        """Spawn the child and compile umap-learn in it, in the background; idempotent.

        Returns the thread that waits for the child to be ready (join it to wait), or None when
        the child has failed `max_starts` times and will not be started again.
        """
        with self._lock:
            if self._starter is not None and (self._starter.is_alive() or self._ready.is_set()):
                return self._starter
            if self.starts >= self.max_starts:
                return None
            self.starts += 1
            self._starter = threading.Thread(target=self._spawn, name="orca-umap-start", daemon=True)
            self._starter.start()
            return self._starter

    def ready(self) -> bool:
        return self._ready.is_set()

    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def close(self) -> None:
        """Stop the child (it would also exit by itself when this process ends)."""
        with self._lock:
            process, self._process = self._process, None
            self._ready.clear()
        if process is not None:
            _stop(process)

    def _spawn(self) -> None:
        started = time.monotonic()
        root = str(Path(__file__).absolute().parents[2])  # holds orca_engine/
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        env.setdefault("NUMBA_CACHE_DIR", numba_cache_dir(root))
        try:
            process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       env=env)
        except OSError as error:
            self._fail(f"could not start the UMAP process: {error}")
            return
        with self._lock:
            self._process = process
        try:
            reply = self._receive(process, self.ready_timeout_s)
            while reply[0] == "alive":  # still compiling: wait for the next sign of life
                reply = self._receive(process, self.ready_timeout_s)
        except (EOFError, OSError, TimeoutError) as error:
            self._fail(f"the UMAP process did not get ready: {error}", process)
            return
        if reply[0] != "ready":
            self._fail(str(reply[1]), process)
            return
        self.failure = None
        self.ready_seconds = time.monotonic() - started
        self._ready.set()

    def _fail(self, reason: str, process: subprocess.Popen | None = None) -> None:
        self.failure = reason
        log.warning("UMAP unavailable, projections stay PCA: %s", reason)
        with self._lock:
            if process is not None and self._process is process:
                self._process = None
            self._ready.clear()
        if process is not None:
            _stop(process)

    # -- requests --------------------------------------------------------------------------------
    def layout(self, points: np.ndarray, init: np.ndarray, n_epochs: int, seed: int,
               n_neighbors: int = 15, learning_rate: float = 1.0,
               timeout: float = 60.0) -> np.ndarray:
        """`umap_layout.umap_layout(...)` computed in the child; (n, 2) float64.

        Raises UmapUnavailable when the child is not ready, has died or took over `timeout`
        seconds (then it is stopped; call `start()` to get a fresh one).
        """
        request = ("layout", {"points": np.asarray(points, dtype=np.float32),
                              "init": np.asarray(init, dtype=np.float32), "n_epochs": int(n_epochs),
                              "seed": int(seed), "n_neighbors": int(n_neighbors),
                              "learning_rate": float(learning_rate)})
        with self._call_lock:
            process = self._process
            if not self._ready.is_set() or process is None:
                raise UmapUnavailable(self.failure or "the UMAP process is not ready yet")
            try:
                _write(process.stdin, request)
                reply = self._receive(process, timeout)
            except (EOFError, OSError, TimeoutError) as error:
                self._fail(f"the UMAP process stopped answering ({type(error).__name__}: {error})",
                           process)
                raise UmapUnavailable(self.failure) from error
        if reply[0] == "error":  # the layout itself failed; the child is fine
            raise RuntimeError(reply[1])
        return np.asarray(reply[1], dtype=np.float64)

    @staticmethod
    def _receive(process: subprocess.Popen, timeout: float) -> tuple:
        stream = process.stdout
        if os.name == "posix":  # no select() on Windows pipes: wait without a timeout there
            readable, _, _ = select.select([stream], [], [], timeout)
            if not readable:
                raise TimeoutError(f"no answer within {timeout:.0f} s")
        return _read(stream)


def numba_cache_dir(root: str) -> str:
    """Where the child keeps numba's compiled code when NUMBA_CACHE_DIR is not set: `.cache/numba`
    beside the project if writable, else a folder in the temp dir (a warm cache saves ~15 s of
    the ~40 s first start)."""
    for folder in (os.path.join(root, ".cache", "numba"),
                   os.path.join(tempfile.gettempdir(), "orca-numba-cache")):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    return tempfile.mkdtemp(prefix="orca-numba-")


def _stop(process: subprocess.Popen) -> None:
    try:
        process.stdin.close()  # the child exits at end of input
        process.wait(timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait(timeout=5)


_service: UmapService | None = None
_service_lock = threading.Lock()


def service() -> UmapService:
    """The process-wide UMAP service (created on first use, stopped at exit)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = UmapService()
            atexit.register(_service.close)
        return _service


def warm_up_umap_in_background() -> threading.Thread | None:
    """Start the UMAP process (it compiles umap-learn) in the background; idempotent.

    Returns the thread waiting for it to be ready (join it to wait), or None when UMAP failed
    too often to be tried again (`umap_unavailable_reason` says why).
    """
    return service().start()


def is_umap_ready() -> bool:
    """True once the UMAP process has compiled umap-learn, so a frame costs well under a second."""
    return service().ready()


def umap_unavailable_reason() -> str | None:
    """Why UMAP is not available (e.g. umap-learn failed to import, the process died), or None."""
    return service().failure
