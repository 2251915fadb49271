"""Is the Hugging Face hub reachable? One memoised answer per process, within about 1.5 s.

Without network the hub client retries for ~20 s per call before failing. Callers ask here first
and, when the answer is no, switch the hub client to offline mode (local cache only) or pick an
offline alternative at once. huggingface_hub is imported only when a probe actually runs.
"""
from __future__ import annotations

import contextlib
import functools
import os
import socket
import ssl
import threading
from urllib.parse import urlparse


def offline_mode() -> bool:
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set, or the hub client already switched offline."""
    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").upper()
    if env in ("1", "ON", "YES", "TRUE"):
        return True
    from huggingface_hub import constants
    return bool(constants.HF_HUB_OFFLINE)


@functools.lru_cache(maxsize=1)
def _probe_hub(timeout: float = 1.5) -> bool:
    """Connect to the hub endpoint and complete a verified TLS handshake, within `timeout` seconds.

    TLS matters: an intercepting proxy accepts any TCP connection, then lets hub calls stall. The
    probe runs in a daemon thread so a hanging DNS lookup cannot hold us past the timeout. Behind an
    explicit HTTPS proxy the probe cannot see the hub, so the network is trusted.
    """
    from huggingface_hub import constants
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    reached: list[bool] = []

    def handshake() -> None:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout) as sock:
            if url.scheme == "https":
                _tls_context().wrap_socket(sock, server_hostname=host).close()
            reached.append(True)

    probe = threading.Thread(target=handshake, daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(reached)


def _tls_context() -> ssl.SSLContext:
    """Verify certificates as the hub client (httpx) does: SSL_CERT_FILE, else certifi, else the system store."""
    cafile = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    if cafile is None:
        with contextlib.suppress(ImportError):
            import certifi
            cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile)


def hub_reachable() -> bool:
    """Whether the Hugging Face hub can be reached (False when offline mode is set); memoised."""
    return not offline_mode() and _probe_hub()


def go_offline() -> None:
    """Make every later hub call local-only, instead of each one retrying the network for ~20 s."""
    from huggingface_hub import constants
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
