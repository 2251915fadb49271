"""The UMAP child process: `python -m orca_engine.projection.umap_child NICE`.

Compiles umap-learn at the parent's priority (saying it is alive every `HEARTBEAT_S` seconds, so a
busy machine's slow compile is waited for, not mistaken for a hang), then lowers its own priority,
says it is ready, and answers layout requests one at a time until its stdin closes. The parent's
side, and the protocol, are in `umap_process`.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import BinaryIO

from .umap_layout import compile_umap_here, umap_layout
from .umap_process import HEARTBEAT_S, _read, _write


def _child(nice: int) -> None:
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    protocol_in = sys.stdin.buffer
    compiling, write_lock = threading.Event(), threading.Lock()
    compiling.set()
    threading.Thread(target=_heartbeat, args=(protocol_out, compiling, write_lock), daemon=True).start()
    try:
        compile_umap_here()  # at the parent's priority: a reniced compile starves on a busy machine
    except Exception as error:  # e.g. umap-learn missing or broken
        _stop_heartbeat(compiling, write_lock)
        _write(protocol_out, ("failed", f"{type(error).__name__}: {error}"))
        return
    _stop_heartbeat(compiling, write_lock)
    if nice and hasattr(os, "nice"):
        os.nice(nice)  # compiled: from now on frames yield the cores to training
    _write(protocol_out, ("ready", os.getpid()))
    while True:
        try:
            kind, arguments = _read(protocol_in)
        except EOFError:  # the parent has gone or closed us
            return
        if kind != "layout":
            _write(protocol_out, ("error", f"unknown request {kind!r}"))
            continue
        try:
            _write(protocol_out, ("ok", umap_layout(**arguments)))
        except Exception as error:
            _write(protocol_out, ("error", f"{type(error).__name__}: {error}"))


def _heartbeat(stream: BinaryIO, compiling: threading.Event, write_lock: threading.Lock) -> None:
    started = time.monotonic()
    while compiling.is_set():
        time.sleep(HEARTBEAT_S)
        with write_lock:
            if compiling.is_set():
                _write(stream, ("alive", round(time.monotonic() - started, 1)))


def _stop_heartbeat(compiling: threading.Event, write_lock: threading.Lock) -> None:
    with write_lock:  # no heartbeat is half-written when the answer follows
        compiling.clear()


if __name__ == "__main__":
    _child(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
