"""The UMAP child process: `python -m orca_engine.projection.umap_child NICE`.

Lowers its own priority, compiles umap-learn, says it is ready, then answers layout requests one
at a time until its stdin closes. The parent's side, and the protocol, are in `umap_process`.
"""
from __future__ import annotations

import os
import sys

from .umap_layout import compile_umap_here, umap_layout
from .umap_process import _read, _write


def _child(nice: int) -> None:
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    protocol_in = sys.stdin.buffer
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    try:
        compile_umap_here()
    except Exception as error:  # e.g. umap-learn missing or broken
        _write(protocol_out, ("failed", f"{type(error).__name__}: {error}"))
        return
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


if __name__ == "__main__":
    _child(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
