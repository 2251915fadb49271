"""A signed note the browser keeps (gr.BrowserState): who the visitor is and which runs are theirs.

After a server restart the Session has forgotten every run and owner; the page sends its note
back on load and, when the signature holds, the visitor gets their identity and their recent runs
(for replay and comparison) back. Without a valid signature nothing is adopted: an owner id or a
run id typed into the browser's storage is worth nothing.

    token = sign("owner-id", ["20240101-120000-digits-tiny-bert-Xy..."])
    verify(token)  # -> ("owner-id", [...]) or None

The key is `ORCA_SECRET` when set, else 32 random bytes kept in `<runs dir>/.secret` (mode 0600),
so tokens survive a restart of the same server.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

MAX_RUNS = 20  # run ids one token lists (the most recent)
RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
_keys: dict[str, bytes] = {}


def secret(runs_dir: str | Path) -> bytes:
    """The signing key: ORCA_SECRET, or the runs folder's own random key (created once)."""
    if os.environ.get("ORCA_SECRET"):
        return os.environ["ORCA_SECRET"].encode()
    path = Path(runs_dir).resolve() / ".secret"
    if str(path) not in _keys:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        except FileExistsError:
            pass
        _keys[str(path)] = path.read_bytes()
    return _keys[str(path)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(owner: str, run_ids: list[str], key: bytes) -> str:
    payload = _b64(json.dumps({"owner": owner, "runs": list(run_ids)[-MAX_RUNS:]}).encode())
    return payload + "." + _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def verify(token: object, key: bytes) -> tuple[str, list[str]] | None:
    """(owner, run ids) of a token this server signed; None for anything else."""
    if not isinstance(token, str) or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    owner, runs = data.get("owner"), data.get("runs")
    if not isinstance(owner, str) or not owner or not isinstance(runs, list):
        return None
    return owner, [r for r in runs if isinstance(r, str) and RUN_ID.match(r)]
