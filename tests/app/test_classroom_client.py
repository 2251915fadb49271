"""The classroom through gradio_client on the real app: an identical request replays from the cache, one
made while the first computes watches it read-only, and a changed option gets a run of its own."""
import pytest
from gradio_client import Client

from test_client_flow import summary, wait_for


@pytest.mark.slow
def test_identical_requests_are_computed_once(live_app, tiny_options):
    from app import server
    alice, bob, carol = (Client(live_app, verbose=False) for _ in range(3))
    for client in (alice, bob, carol):
        client.predict("iris", api_name="/use_example")

    status, _ = alice.predict(**tiny_options, align_steps=400, api_name="/start_align")
    wait_for(alice, lambda s: len(s["align_losses"]) >= 2, timeout=300)
    status, _ = bob.predict(**tiny_options, align_steps=400, api_name="/start_align")
    assert "Watching an identical run" in status
    assert summary(bob)["run_id"] == summary(alice)["run_id"]
    wait_for(bob, lambda s: len(s["align_losses"]) >= 2, timeout=60)  # Bob reads Alice's run
    with pytest.raises(Exception, match="read-only"):
        bob.predict(api_name="/stop")
    alice.predict(api_name="/stop")
    wait_for(alice, lambda s: s["state"] == "cancelled", timeout=120)

    alice.predict(**tiny_options, align_steps=4, api_name="/start_align")
    done = wait_for(alice, lambda s: s["state"] == "idle", timeout=300)
    runs_before = len(server.session().runs())
    status, _ = carol.predict(**tiny_options, align_steps=4, api_name="/start_align")
    assert "Replaying an identical run finished at" in status
    replayed = wait_for(carol, lambda s: len(s["align_losses"]) == len(done["align_losses"]), timeout=60)
    assert replayed["align_losses"] == done["align_losses"] and replayed["projection_frames"] >= 1
    assert len(server.session().runs()) == runs_before  # nothing was computed for Carol

    status, _ = carol.predict(**tiny_options, align_steps=5, api_name="/start_align")  # one option changed
    assert "Replaying" not in status and "Watching" not in status
    assert summary(carol)["run_id"] not in ("", done["run_id"])
    carol.predict(api_name="/stop")
