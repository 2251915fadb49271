"""Eight visitors at once on the real app: each finishes, each sees only its own run, and the server's
open files and memory come back to where they were (issue 10's load check)."""
import os
import threading
from pathlib import Path

import pytest
from gradio_client import Client

from test_client_flow import summary, wait_for

VISITORS = 8


def _open_fds() -> int:
    """Open descriptors other than sockets (the test's own clients share this process)."""
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed while listing
            pass
    return sum(1 for target in fds if not target.startswith("socket:"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _visit(url: str, options: dict, results: dict, index: int) -> None:
    try:
        client = Client(url, verbose=False)
        client.predict("iris", api_name="/use_example")
        # A seed each: eight different runs computing at once (identical settings would share one
        # run, the classroom's behaviour, tested in test_classroom_client.py)
        client.predict(**{**options, "seed": index + 1}, align_steps=4, api_name="/start_align")
        done = wait_for(client, lambda s: s["state"] in ("idle", "failed", "cancelled"), timeout=900)
        results[index] = {"run_id": done["run_id"], "state": done["state"], "error": done.get("error", ""),
                          "others_seen": None}
    except Exception as error:  # noqa: BLE001 - reported by the test, with which visitor
        results[index] = {"state": "exception", "error": f"{type(error).__name__}: {error}"}


@pytest.mark.slow
def test_eight_concurrent_visitors_finish_apart_and_the_server_returns_to_baseline(live_app, tiny_options):
    warm = Client(live_app, verbose=False)  # one visit first: imports and caches are not a leak
    warm.predict("iris", api_name="/use_example")
    warm.predict(**tiny_options, align_steps=2, api_name="/start_align")
    wait_for(warm, lambda s: s["state"] in ("idle", "failed"), timeout=600)
    fds, rss = _open_fds(), _rss_mb()

    results: dict[int, dict] = {}
    threads = [threading.Thread(target=_visit, args=(live_app, tiny_options, results, i)) for i in range(VISITORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r["state"] == "idle" for r in results.values()), results
    run_ids = [r["run_id"] for r in results.values()]
    assert len(set(run_ids)) == VISITORS  # eight runs, one each

    stranger = Client(live_app, verbose=False)
    assert summary(stranger)["run_id"] == ""  # nobody else's run leaks into a new visitor's page
    for run_id in run_ids[:2]:
        with pytest.raises(Exception, match="belongs to another visitor"):
            stranger.predict(run_id, None, api_name="/replay")

    print(f"\nserver open fds {fds} -> {_open_fds()}, RSS {rss:.0f} -> {_rss_mb():.0f} MB after {VISITORS} visitors")
    assert _open_fds() <= fds + 2  # files and pipes: no run holds one open once it has ended
    assert _rss_mb() <= rss * 1.25  # memory comes back near the warm baseline (one model kept per visitor)
