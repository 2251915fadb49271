"""The server's state: its one engine Session, its settings, and the timers that free a closed page's run.

Settings come from the environment (README, "Settings"). The Session is made on first use, or
installed by `build_ui(session=...)`, so tests hand the app a Session (or a stand-in) without
patching module globals.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from orca_engine.errors import OrcaError
from orca_engine.session import RunState, Session

from . import limits, messages
from .state import Visitor

RUNS_DIR = Path(os.environ.get("ORCA_RUNS_DIR", "runs"))
MAX_ACTIVE = int(os.environ.get("ORCA_MAX_ACTIVE", "1"))
KEEP_RUN_FOLDERS = int(os.environ.get("ORCA_KEEP_RUNS", "200"))  # older run folders are deleted
KEEP_PER_VISITOR = int(os.environ.get("ORCA_KEEP_PER_VISITOR", "3"))  # ... but never a present visitor's latest
# A page that closes frees its finished run's model this many seconds later, unless a reloaded page
# has re-attached meanwhile (a reload closes the old page, and the two race).
RELEASE_GRACE_S = float(os.environ.get("ORCA_RELEASE_GRACE_S", "300"))

_session: Session | None = None
_session_lock = threading.Lock()
_pending_release: dict[str, tuple[threading.Timer, object]] = {}  # run id -> (timer, token)
_pending_lock = threading.Lock()


def session() -> Session:
    """The process's one Session (created from the settings on first use)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = Session(runs_dir=RUNS_DIR, max_active=MAX_ACTIVE, keep_run_folders=KEEP_RUN_FOLDERS,
                               keep_per_owner=KEEP_PER_VISITOR, retain_s=RELEASE_GRACE_S,
                               time_limit_s=limits.PUBLIC.max_run_s or None,
                               time_limit_message=messages.TIME_LIMIT_STOP)
        return _session


def install(new: Session | None) -> Session | None:
    """Make `new` the process's Session (None: a fresh one from the settings on next use); returns the
    one it replaces, so a test can put it back."""
    global _session
    with _session_lock:
        old, _session = _session, new
    return old


def runs_dir() -> Path:
    """Where the Session keeps run folders (and the key that signs visitors' notes)."""
    return Path(session().runs_dir)


# -- a page closes: free its run later, unless a reloaded page re-attaches --------------------------

def visitor_left(visitor: Visitor) -> None:
    """gr.State delete callback: free a finished visitor's model after `RELEASE_GRACE_S` (files stay
    for replay). A running run keeps running; a page reloaded in time re-attaches and keeps it."""
    if not isinstance(visitor, Visitor):
        return
    remove_download(visitor)
    if not visitor.run_id:
        session().owner_left(visitor.owner)
        return
    run_id, owner, token = visitor.run_id, visitor.owner, object()
    timer = threading.Timer(RELEASE_GRACE_S, _release_if_done, (run_id, owner, token))
    timer.daemon = True
    with _pending_lock:
        previous = _pending_release.get(run_id)
        _pending_release[run_id] = (timer, token)
    if previous is not None:
        previous[0].cancel()
    timer.start()


def _release_if_done(run_id: str, owner: str, token: object) -> None:
    with _pending_lock:
        if _pending_release.get(run_id, (None, None))[1] is not token:
            return  # a page re-attached, or a later close rescheduled it
        del _pending_release[run_id]
    try:
        session().owner_left(owner)
        if not RunState(session().status(run_id, owner=owner).state).active:
            session().release(run_id, owner=owner)
    except OrcaError:
        pass


def keep_run(run_id: str) -> None:
    """A page (re)attached to `run_id`: cancel a pending release."""
    with _pending_lock:
        pending = _pending_release.pop(run_id, None)
    if pending is not None:
        pending[0].cancel()


def remove_download(visitor: Visitor) -> None:
    """Delete the visitor's previous download folder (Gradio has copied what it served from it)."""
    if visitor.download_dir:
        shutil.rmtree(visitor.download_dir, ignore_errors=True)
        visitor.download_dir = ""
