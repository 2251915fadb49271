"""Read-only share links: `?run=<id>` opens a finished run's replay for anyone who has the link.

A share is a snapshot of the run's event records, after a `{"type": "share", "title"}` header,
written to `<runs dir>/.shares/<id>.jsonl.gz` when the link is made. The id is 128 random bits
(`secrets.token_urlsafe(16)`), so links cannot be guessed or enumerated; nothing else names the
file. Opening a link gives the visitor a replay and nothing more: they get no run id, so no control
(pause, stop, continue, predict) reaches the original run, and no handler deletes or changes a share. Only the newest `MAX_SHARES` are kept.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from orca_engine.session import events_gz_bytes, read_events_gz

MAX_SHARES = int(os.environ.get("ORCA_MAX_SHARES", "500"))
SHARE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # token_urlsafe(16)
HEADER = "share"  # the first record of a share file: {"type": "share", "title": ...}


def folder(runs_dir: str | Path) -> Path:
    return Path(runs_dir) / ".shares"


def create(runs_dir: str | Path, records: list[dict], title: str = "") -> str:
    """Store a snapshot of `records` and return its new unguessable id."""
    if not records:
        raise ValueError("nothing to share yet: start a run or play a lesson first")
    where = folder(runs_dir)
    where.mkdir(parents=True, exist_ok=True)
    share_id = secrets.token_urlsafe(16)
    tmp = where / f".{share_id}.tmp"
    tmp.write_bytes(events_gz_bytes([{"type": HEADER, "title": title}, *records], level=6))
    os.replace(tmp, where / f"{share_id}.jsonl.gz")
    _prune(where)
    return share_id


def load(runs_dir: str | Path, share_id: object) -> tuple[str, list[dict]] | None:
    """(title, records) of a share, or None for anything that is not the id of a stored share."""
    if not isinstance(share_id, str) or not SHARE_ID.match(share_id):
        return None
    path = folder(runs_dir) / f"{share_id}.jsonl.gz"
    try:
        records = read_events_gz(path)
    except (OSError, ValueError, EOFError):
        return None
    title = records.pop(0).get("title", "") if records and records[0]["type"] == HEADER else ""
    return str(title), records


def link(base_url: str, share_id: str) -> str:
    return f"{base_url.rstrip('/')}/?run={share_id}"


def _prune(where: Path) -> None:
    shares = sorted(where.glob("*.jsonl.gz"), key=lambda p: p.stat().st_mtime)
    for old in shares[:max(0, len(shares) - MAX_SHARES)]:
        old.unlink(missing_ok=True)
