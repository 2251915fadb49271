"""Is the Hugging Face hub reachable? Answered once per process, within about two seconds.

Without network the hub client retries for a long time before failing; a short TCP probe lets
callers fall back to the local cache (HF_HUB_OFFLINE semantics) or an offline proxy at once.
"""
from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 1.5
_OFFLINE_VALUES = ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """True when the hub endpoint accepts a TCP connection and offline mode is not set.

    Memoised for the process; `hub_reachable.cache_clear()` re-probes.
    """
    if _offline_mode():
        return False
    return _connects(_hub_address(), PROBE_TIMEOUT_S)


def _offline_mode() -> bool:
    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").strip().lower()
    return env in _OFFLINE_VALUES


def _hub_address() -> tuple[str, int]:
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)


def _connects(address: tuple[str, int], timeout: float) -> bool:
    # In a thread because the DNS lookup inside create_connection ignores `timeout` and can hang.
    reached: list[bool] = []

    def connect() -> None:
        with contextlib.suppress(OSError), socket.create_connection(address, timeout=timeout):
            reached.append(True)

    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(timeout + 0.5)
    return bool(reached)
