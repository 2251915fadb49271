"""Identical runs computed once: a finished one is replayed, one in progress is watched together.

A class opens the same page and presses Start on the same example with the same settings: one
run computes, everyone else watches it.

    shared = SharedRuns(session, RunCache("runs/.cache"))
    ticket = shared.request(config, stages, viewer="visitor-id")
    ticket.kind    # "replay": a cached run's records (ticket.records), no queue slot used
                   # "attached": watching someone's identical run in progress (read-only)
                   # "started": a new run, owned by the viewer, queued in the Session
    shared.events(ticket.run_id, since, viewer); shared.status(ticket.run_id, viewer)
    shared.leave(run_id, viewer)   # True: the run goes on for others, do not discard it

Attached viewers read a run but never control it: pause, step, cancel and release go to the
Session with the viewer as owner, and the Session refuses them. When a run's starter leaves while
others still watch, the run is handed to one of them, so it is not cancelled under the class.
A run that finishes (or ends its stages, idle) is put in the cache under its key; when a seconds
limit stopped one of its stages, the entry says so (a fresh run on a faster machine could differ).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable

from .config import RunConfig
from .errors import RunError
from .run_cache import RunCache, run_key, time_dependent

__all__ = ["RunCache", "SharedRuns", "Ticket"]
from .session import ACTIVE_STATES, RunStatus, Session


@dataclass(frozen=True)
class Ticket:
    kind: str  # "replay" | "attached" | "started"
    run_id: str  # the run to watch; for a replay, the original run's id
    key: str
    records: tuple = ()  # a replay's event records
    finished_at: float | None = None  # a replay: when the original run finished (epoch seconds)
    seconds: float = 0.0  # a replay: how long the original run took
    note: str = ""  # a replay: why a fresh run might differ ("" when it would not)


class SharedRuns:
    def __init__(self, session: Session, cache: RunCache | None = None):
        self.session, self.cache = session, cache
        self._lock = threading.Lock()
        self._live: dict[str, str] = {}  # key -> id of the run computing it
        self._keys: dict[str, str] = {}  # run id -> key, until that launch ends
        self._viewers: dict[str, set[str]] = {}  # run id -> visitors watching it, starter included
        self._durations: list[float] = []  # seconds of the latest finished runs (queue ETAs)
        session.add_end_listener(self._ended)

    def request(self, config: RunConfig | dict, stages: Iterable[str], viewer: str, projection_method: str = "pca",
                source_name: str | None = None, before_start: Callable[[], None] | None = None) -> Ticket:
        """A cached replay, the identical run in progress, or a new run (after `before_start()`,
        e.g. a fair-use check that raises), in that order of preference."""
        config = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
        stages = tuple(stages)
        key = run_key(config, stages, projection_method)
        cached = self.cache.get(key) if self.cache is not None else None
        if cached is not None:
            return Ticket("replay", cached.run_id, key, tuple(cached.records), cached.finished_at, cached.seconds,
                          cached.note)
        with self._lock:  # held across the start, so two identical requests cannot both start a run
            run_id = self._live.get(key)
            if run_id is not None and self._active(run_id):
                self._viewers.setdefault(run_id, set()).add(viewer)
                return Ticket("attached", run_id, key)
            if before_start is not None:
                before_start()
            run_id = self.session.start(config, stages=stages, owner=viewer, projection_method=projection_method,
                                        source_name=source_name)
            self._live[key], self._keys[run_id] = run_id, key
            self._viewers[run_id] = {viewer}
        return Ticket("started", run_id, key)

    def _active(self, run_id: str) -> bool:
        try:
            return self.session.status(run_id).state in ACTIVE_STATES and not self.session.stopping(run_id)
        except RunError:
            return False

    # -- reading, for the owner and for attached viewers ------------------------------------------
    def watching(self, run_id: str, viewer: str) -> bool:
        with self._lock:
            return viewer in self._viewers.get(run_id, ())

    def viewers(self, run_id: str) -> int:
        with self._lock:
            return len(self._viewers.get(run_id, ()))

    def events(self, run_id: str, since: int, viewer: str) -> list[dict]:
        owner = None if self.watching(run_id, viewer) else viewer
        return self.session.events(run_id, since=since, owner=owner)

    def status(self, run_id: str, viewer: str) -> RunStatus:
        owner = None if self.watching(run_id, viewer) else viewer
        return self.session.status(run_id, owner=owner)

    def owns(self, run_id: str, viewer: str) -> bool:
        try:
            return self.session.status(run_id).owner == viewer
        except RunError:
            return False

    def queue_eta_s(self, position: int) -> float | None:
        """A rough wait for queue `position`: that many runs ahead, each as long as the median of
        the latest finished runs (None before any finished)."""
        with self._lock:
            recent = sorted(self._durations)
        if not recent or position <= 0:
            return None
        return position * recent[len(recent) // 2]

    # -- leaving -------------------------------------------------------------------------------
    def leave(self, run_id: str, viewer: str) -> bool:
        """`viewer` stops watching `run_id`. True when the run is not theirs to stop (someone else's,
        or handed to another viewer just now); False when they were its only watcher."""
        with self._lock:
            viewers = self._viewers.get(run_id)
            if viewers is None:
                return not self.owns(run_id, viewer)
            viewers.discard(viewer)
            if not viewers:
                del self._viewers[run_id]
            if not self.owns(run_id, viewer):
                return True
            if viewers:
                try:
                    self.session.hand_over(run_id, viewer, next(iter(sorted(viewers))))
                    return True
                except RunError:
                    pass
            self._forget(run_id)  # the caller stops it: nobody may attach to it any more
            return False

    def _forget(self, run_id: str) -> None:
        key = self._keys.get(run_id)
        if key is not None and self._live.get(key) == run_id:
            del self._live[key]

    # -- the cache -------------------------------------------------------------------------------
    def _ended(self, run_id: str, state: str) -> None:
        with self._lock:
            key = self._keys.pop(run_id, None)
            if key is not None and self._live.get(key) == run_id:
                del self._live[key]
        status = self.session.status(run_id)
        if state in ("finished", "idle"):
            with self._lock:
                self._durations = (self._durations + [_computing_s(self.session.events(run_id))])[-10:]
        if key is None or self.cache is None or state not in ("finished", "idle"):
            return
        self.cache.put(key, self.session.events(run_id), run_id, note=time_dependent(status.metrics))


def _computing_s(records: list[dict]) -> float:
    """Seconds a run computed: from its (last) start of running to its last event, not its wait in the queue."""
    starts = [r["time"] for r in records if r.get("type") == "state" and r.get("state") == "running"]
    return max(0.0, records[-1]["time"] - (starts[-1] if starts else records[0]["time"])) if records else 0.0
