"""The classroom: identical runs computed once for everyone on the page, and replayed at watching speed.

`shared()` is the process's one `SharedRuns` over the app's Session, with its run cache in
`<runs dir>/.cache` bounded by `ORCA_CACHE_MB` (default 200 MB). `start` asks it for a run:
a cached identical run becomes a paced replay (no queue slot), an identical run in progress is
watched read-only, anything else starts as before. `leave` keeps a shared run going when the
visitor who started it moves on while others still watch.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

from orca_engine.config import RunConfig
from orca_engine.shared_runs import RunCache, SharedRuns, Ticket

from . import messages
from .replay import Replay
from .state import Visitor

CACHE_MB = float(os.environ.get("ORCA_CACHE_MB", "200"))

_shared: SharedRuns | None = None
_lock = threading.Lock()


def shared() -> SharedRuns:
    """The process's one SharedRuns (created on first use, over `handlers.session()`)."""
    global _shared
    from .handlers import RUNS_DIR, session
    with _lock:
        if _shared is None or _shared.session is not session():
            _shared = SharedRuns(session(), RunCache(RUNS_DIR / ".cache", int(CACHE_MB * 2**20)))
        return _shared


def start(visitor: Visitor, config: RunConfig, stages: tuple[str, ...], before_start: Callable[[], None]) -> str:
    """Give the visitor the run of `config`: a replay, a shared run, or a new one. Returns the status line."""
    ticket = shared().request(config, stages, viewer=visitor.owner, projection_method=visitor.projection_method,
                              source_name=visitor.source_name or None, before_start=before_start)
    if ticket.kind == "replay":
        replay = Replay(list(ticket.records))
        replay.note = replay_note(ticket, replay.duration_s)
        visitor.watch("")
        visitor.view.run_id, visitor.replay = ticket.run_id, replay
        return replay.note
    visitor.watch(ticket.run_id)
    visitor.last_state = ""
    if ticket.kind == "attached":
        return messages.ATTACHED.format(viewers=shared().viewers(ticket.run_id))
    return messages.STATE_NAMES["queued"]


def replay_note(ticket: Ticket, seconds: float) -> str:
    finished = time.localtime(ticket.finished_at or time.time())
    return messages.REPLAY_CACHED.format(clock=time.strftime("%H:%M", finished),
                                         date=time.strftime("%Y-%m-%d", finished), seconds=seconds)


def leave(visitor: Visitor) -> bool:
    """The visitor stops watching their run; True when it must go on (someone else's, or handed over)."""
    return bool(visitor.run_id) and shared().leave(visitor.run_id, visitor.owner)


def is_shared_with_me(visitor: Visitor) -> bool:
    """The visitor watches a run someone else controls."""
    return bool(visitor.run_id) and shared().watching(visitor.run_id, visitor.owner) and \
        not shared().owns(visitor.run_id, visitor.owner)
