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
from typing import Any, Callable

import gradio as gr

from orca_engine.config import RunConfig
from orca_engine.session import shared_runs

from . import messages
from .replay import Replay
from .state import Visitor

CACHE_MB = float(os.environ.get("ORCA_CACHE_MB", "200"))

_shared: Any = None  # orca_engine.shared_runs.SharedRuns
_lock = threading.Lock()


def shared() -> Any:
    """The process's one SharedRuns (created on first use, over `server.session()`)."""
    global _shared
    from .server import runs_dir, session
    with _lock:
        if _shared is None or _shared.session is not session():
            _shared = shared_runs(session(), runs_dir() / ".cache", int(CACHE_MB * 2**20))
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
        visitor.last_replay = replay
        return replay.note
    visitor.watch(ticket.run_id)
    visitor.last_state = ""
    if ticket.kind == "attached":
        return messages.ATTACHED.format(viewers=shared().viewers(ticket.run_id))
    return messages.STATE_NAMES["queued"]


def replay_note(ticket: Any, seconds: float) -> str:
    finished = time.localtime(ticket.finished_at or time.time())
    text = messages.REPLAY_CACHED.format(clock=time.strftime("%H:%M", finished),
                                         date=time.strftime("%Y-%m-%d", finished), seconds=seconds)
    return text + (" " + messages.REPLAY_TIME_LIMITED.format(reason=ticket.note) if ticket.note else "")


def leave(visitor: Visitor) -> bool:
    """The visitor stops watching their run; True when it must go on (someone else's, or handed over)."""
    return bool(visitor.run_id) and shared().leave(visitor.run_id, visitor.owner)


def is_shared_with_me(visitor: Visitor) -> bool:
    """The visitor watches a run someone else controls."""
    return bool(visitor.run_id) and shared().watching(visitor.run_id, visitor.owner) and \
        not shared().owns(visitor.run_id, visitor.owner)


# -- slides and share links ------------------------------------------------------------------------

def records_shown(visitor: Visitor) -> list[dict]:
    """The event records of what the visitor is looking at: their (shared) run, or the replay."""
    if visitor.run_id:
        return shared().events(visitor.run_id, 0, visitor.owner)
    if visitor.last_replay is not None:
        return list(visitor.last_replay.records)
    return []


def make_share_link(visitor: Visitor, request: gr.Request = None) -> str:
    """A read-only link to a snapshot of the run the visitor sees (finished, or as far as it got)."""
    from . import share
    from .server import runs_dir
    records = records_shown(visitor)
    if not records:
        raise _error(messages.NOTHING_TO_SHARE)
    share_id = share.create(runs_dir(), records, title=visitor.view.run_id)
    return messages.SHARE_LINK.format(link=share.link(_base_url(request), share_id), share_id=share_id)


def _base_url(request) -> str:
    headers = getattr(request, "headers", None) or {}
    origin = headers.get("origin") or ""
    if origin.startswith(("http://", "https://")):
        return origin
    host = headers.get("host") or "127.0.0.1:7860"
    return f"http://{host}"


def open_shared_link(visitor: Visitor, request=None) -> str | None:
    """Page load with `?run=<id>`: replay that share (read-only). The status line, or None without a link."""
    from . import share
    from .server import runs_dir
    params = getattr(request, "query_params", None) or {}
    share_id = params.get("run") if hasattr(params, "get") else None
    if not share_id:
        return None
    found = share.load(runs_dir(), share_id)
    if found is None:
        return messages.SHARE_NOT_FOUND
    title, records = found
    replay = visitor.replay_events(title or "shared run", records)
    replay.note = messages.SHARE_PLAYING.format(seconds=replay.duration_s)
    return replay.note


def make_gif(visitor: Visitor):
    """The alignment as an animated GIF (from the recorded frames), in a fresh download folder."""
    import tempfile
    from pathlib import Path
    from . import slides
    if not visitor.view.frames:
        raise _error(messages.NOTHING_TO_ANIMATE)
    folder = Path(tempfile.mkdtemp(prefix="orca-gif-"))
    animation = slides.projection_gif(visitor.view.frames, folder / "alignment.gif")
    return str(animation.path), messages.GIF_READY.format(details=animation.describe())


def make_pngs(visitor: Visitor):
    import tempfile
    from pathlib import Path
    from . import slides
    written = slides.figure_pngs(visitor.view, Path(tempfile.mkdtemp(prefix="orca-png-")))
    if not written:
        raise _error(messages.NOTHING_TO_ANIMATE)
    return [str(p) for p in written]


def _error(text: str):
    return gr.Error(text)


def with_queue_eta(status):
    """A queued run's status with a rough ETA (runs ahead × the median of recent runs), else unchanged."""
    import dataclasses
    if status.state != "queued" or status.eta_s is not None:
        return status
    return dataclasses.replace(status, eta_s=shared().queue_eta_s(status.queue_position))
