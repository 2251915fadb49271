"""Recorded runs shipped as ready-to-watch lessons: reading, writing and compacting them.

A lesson is a folder under `assets/lessons/<name>/`:

    lesson.json          {"name", "title", "summary", "data", "runs": {"aligned": {...}, ...}, "recorded"}
    <run>.jsonl.gz       the run's event records (see orca_engine.events), compacted by `compact_events`

The events are those a live run wrote, thinned so a lesson stays small: at most `max_frames`
projection frames (the first and last always kept), each with the same fixed subset of at most
`max_points` points per side, coordinates rounded to 3 significant digits. No weights are
shipped: a lesson replays what happened; it does not predict. `scripts/record_lessons.py` records
them again with the current code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RunError
from .run_folder import events_gz_bytes, read_events_gz

LESSONS_DIR = Path(__file__).resolve().parent.parent / "assets" / "lessons"


@dataclass(frozen=True)
class Lesson:
    """A recorded lesson: its description and the event records of each of its runs (by role)."""
    name: str
    title: str
    summary: str
    data: str
    runs: dict = field(default_factory=dict)  # role ("aligned", "no-align") -> list of event records
    meta: dict = field(default_factory=dict)

    @property
    def roles(self) -> list[str]:
        return list(self.runs)


def lesson_names(folder: str | Path | None = None) -> list[str]:
    """Names of the lessons in `folder` (default LESSONS_DIR), in the order of their `order` field, then by name."""
    folder = Path(folder or LESSONS_DIR)
    found = []
    for path in sorted(folder.glob("*/lesson.json")):
        try:
            order = json.loads(path.read_text()).get("order", 99)
        except (OSError, ValueError):
            continue
        found.append((order, path.parent.name))
    return [name for _, name in sorted(found)]


def load_lesson(name: str, folder: str | Path | None = None) -> Lesson:
    """The lesson `name` with its runs' events; RunError naming the lessons there are otherwise."""
    folder = Path(folder or LESSONS_DIR)
    path = folder / name / "lesson.json"
    if name not in lesson_names(folder):
        raise RunError(f"no lesson {name!r}; the lessons are: {', '.join(lesson_names(folder)) or '(none recorded)'}")
    meta = json.loads(path.read_text())
    runs = {role: read_events_gz(path.parent / info["events"]) for role, info in meta.get("runs", {}).items()}
    return Lesson(name, meta.get("title", name), meta.get("summary", ""), meta.get("data", ""), runs, meta)


def write_events_gz(path: str | Path, records: list[dict]) -> int:
    """Write records as gzipped JSON lines (the same records give the same bytes); returns bytes."""
    data = events_gz_bytes(records)
    Path(path).write_bytes(data)
    return len(data)


def compact_events(records: list[dict], max_frames: int = 40, max_points: int = 150, seed: int = 0) -> list[dict]:
    """A run's records with fewer, smaller projection frames, re-indexed from 0.

    Frames are thinned evenly to `max_frames` (first and last kept), and every kept frame shows the
    same random subset of `max_points` source and target points, so consecutive frames still
    animate. Coordinates keep 3 significant digits of the frame's largest coordinate.
    """
    frames = [i for i, r in enumerate(records) if r.get("type") == "projection"]
    keep = set(frames)
    if len(frames) > max_frames:
        keep = {frames[int(round(j))] for j in np.linspace(0, len(frames) - 1, max_frames)}
    rng = np.random.default_rng(seed)
    subsets: dict[str, np.ndarray] = {}
    out = []
    for i, record in enumerate(records):
        if record.get("type") == "projection":
            if i not in keep:
                continue
            record = dict(record)
            for side in ("source", "target"):
                n = len(record[f"{side}_xy"])
                if side not in subsets:
                    subsets[side] = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
                pick = subsets[side][subsets[side] < n]
                xy = np.asarray(record[f"{side}_xy"], dtype=float)[pick]
                record[f"{side}_xy"] = _round(xy)
                record[f"{side}_labels"] = [record[f"{side}_labels"][j] for j in pick]
        out.append({**record, "index": len(out)})
    return out


def _round(xy: np.ndarray, significant: int = 3) -> list:
    largest = float(np.abs(xy).max()) if xy.size else 0.0
    if largest == 0.0 or not np.isfinite(largest):
        return xy.tolist()
    decimals = significant - 1 - int(np.floor(np.log10(largest)))
    return np.round(xy, decimals).tolist()
