"""Replaying recorded event records at watching speed (a cached run, a lesson, an uploaded run).

The recorded times set the pace: each gap between two records is capped at `max_gap_s` (loading
a backbone or fitting baselines is dull to watch; before the first projection frame at
`LEAD_GAP_S`, so the first picture comes within a second or two), then the whole run is scaled to last at most
`max_seconds`. A replay only needs a clock: `due()` hands out the records whose moment has come.
Pure Python, no gradio: the poll feeds what `due()` returns to the visitor's RunView.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

REPLAY_SECONDS = 30.0  # longest replay of one run
MAX_GAP_S = 1.0  # longest pause between two records, in recorded time
LEAD_GAP_S = 0.2  # ... and before the first projection frame (loading data and the body), so pictures come at once
UNTIMED_GAP_S = 0.02  # records without a "time" (an old events.jsonl) come at this pace


def replay_offsets(records: list[dict], max_seconds: float = REPLAY_SECONDS, max_gap_s: float = MAX_GAP_S) -> list[float]:
    """Seconds from the start of the replay at which each record is shown (non-decreasing, the
    first at 0, the last at most `max_seconds`)."""
    offsets, total, previous = [], 0.0, None
    seen_frame = not any(r.get("type") == "projection" for r in records)  # no frames: no lead to shorten
    for record in records:
        stamp = record.get("time")
        if isinstance(stamp, (int, float)) and isinstance(previous, (int, float)):
            total += min(max(stamp - previous, 0.0), max_gap_s if seen_frame else LEAD_GAP_S)
        elif offsets:
            total += UNTIMED_GAP_S
        offsets.append(total)
        previous, seen_frame = stamp, seen_frame or record.get("type") == "projection"
    scale = min(1.0, max_seconds / total) if total > 0 else 1.0
    return [o * scale for o in offsets]


@dataclass
class Replay:
    """A recorded run being shown: `due()` returns the records whose time has come, once each."""
    records: list[dict]
    note: str = ""  # what the page says about it ("Replaying an identical run finished at 10:42")
    max_seconds: float = REPLAY_SECONDS
    started: float = field(default_factory=time.monotonic)
    offsets: list[float] = field(default_factory=list)
    shown: int = 0

    def __post_init__(self) -> None:
        self.offsets = replay_offsets(self.records, self.max_seconds)

    @property
    def duration_s(self) -> float:
        return self.offsets[-1] if self.offsets else 0.0

    @property
    def done(self) -> bool:
        return self.shown >= len(self.records)

    def due(self, now: float | None = None) -> list[dict]:
        elapsed = (time.monotonic() if now is None else now) - self.started
        end = self.shown
        while end < len(self.records) and self.offsets[end] <= elapsed:
            end += 1
        chunk, self.shown = self.records[self.shown:end], end
        return chunk

    def finish(self) -> list[dict]:
        """Everything not shown yet (skip to the end)."""
        chunk, self.shown = self.records[self.shown:], len(self.records)
        return chunk
