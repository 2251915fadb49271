"""The whole flow scripted through gradio_client against the real app, and a second visitor kept apart."""
import time
from pathlib import Path
import zipfile

import pytest
from gradio_client import Client



def summary(client: Client) -> dict:
    return client.predict(api_name="/run_summary")


def wait_for(client: Client, done, timeout: float = 90.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = summary(client)
        if done(s):
            return s
        time.sleep(0.3)
    raise AssertionError(f"timed out; last summary: {s}")


def test_scripted_flow_and_isolation(live_app, tiny_options, tmp_path):
    alice = Client(live_app, verbose=False, download_files=str(tmp_path))
    status, *_ = alice.predict("digits", api_name="/use_example")
    assert "classification" in status and "10 classes" in status

    # a long alignment to steer: pause, single step, resume, stop
    alice.predict(**tiny_options, align_steps=400, align_lr=0.01, api_name="/start_align")
    s = wait_for(alice, lambda s: len(s["align_losses"]) >= 3)
    alice.predict(api_name="/pause")
    time.sleep(1.0)
    paused = wait_for(alice, lambda s: s["state"] == "paused")
    time.sleep(1.0)
    assert len(summary(alice)["align_losses"]) == len(paused["align_losses"])  # nothing moves while paused
    alice.predict(api_name="/step")
    wait_for(alice, lambda s: len(s["align_losses"]) == len(paused["align_losses"]) + 1, timeout=20)

    bob = Client(live_app, verbose=False)  # another visitor: sees nothing of Alice's, cannot steer it
    assert summary(bob)["run_id"] == "" and summary(bob)["align_losses"] == []
    with pytest.raises(Exception, match="no run to control yet"):
        bob.predict(api_name="/stop")
    with pytest.raises(Exception, match="belongs to another visitor"):
        bob.predict(s["run_id"], None, api_name="/replay")
    assert summary(alice)["state"] == "paused"

    alice.predict(api_name="/resume")
    wait_for(alice, lambda s: len(s["align_losses"]) >= len(paused["align_losses"]) + 3)
    alice.predict(api_name="/stop")
    stopped = wait_for(alice, lambda s: s["state"] == "cancelled", timeout=15)
    assert len(stopped["align_losses"]) < 400

    # a short alignment that completes, then a brief refinement and the test metrics
    alice.predict(**tiny_options, align_steps=8, align_lr=0.01, api_name="/start_align")
    aligned = wait_for(alice, lambda s: s["state"] == "idle")
    assert len(aligned["align_losses"]) == 8
    assert aligned["align"]["objective_after"] < aligned["align"]["objective_before"]
    assert aligned["projection_frames"] >= 1
    alice.predict(**tiny_options, refine_epochs=1, api_name="/start_refine")
    done = wait_for(alice, lambda s: s["state"] in ("finished", "failed"), timeout=120)
    assert done["state"] == "finished", done["error"]
    assert 0.0 <= done["test_metrics"]["accuracy"] <= 1.0 and done["refine_losses"]

    table = alice.predict(3, None, api_name="/predict")
    assert len(table["data"]) == 1 and len(table["data"][0]) == 4

    label, archive, figures, command = alice.predict(api_name="/export")
    assert "python -m orca_engine run" in command and "tiny-bert" in command and ".venv/bin/activate" in command
    names = zipfile.ZipFile(archive).namelist()
    for part in ("config.json", "events.jsonl", "metrics.json", "model.safetensors", "figures/figures.html",
                 "README.md", "reproduce.sh"):
        assert any(n.endswith(part) for n in names), (part, names)
    assert len(figures) == 1 and figures[0].endswith("figures.html")

    note, compared, chart = alice.predict(api_name="/compare")
    assert "digits" in note and compared["data"], note
    assert compared["data"][0][1] == 1  # one finished run in its group
    assert 0.0 <= float(compared["data"][0][3]) <= 1.0


def raw_call(url: str, api_name: str, data: list) -> str:
    """An API call as a hostile script sends it: the JSON as given (gradio_client would upload a local path)."""
    import httpx
    event = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": data}, timeout=30).json()["event_id"]
    return httpx.get(f"{url}gradio_api/call/{api_name}/{event}", timeout=60).text


def test_api_callers_cannot_read_server_files(live_app, tmp_path):
    """The hostile probe: a FileData naming a server file that was never uploaded, for every file input."""
    from gradio.utils import get_upload_folder
    cached = Path(get_upload_folder()) / ("0" * 64) / "predictions.csv"  # in Gradio's folder, never uploaded
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("sample,prediction\n0,secret-value\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("api_key,label\nsk-live-123,a\n" * 20)
    try:
        for path in (str(secret), str(cached)):
            probe = {"path": path, "meta": {"_type": "gradio.FileData"}}
            for api_name, data in (("read_upload", [probe, None, "auto", "auto"]), ("replay", [None, probe]),
                                   ("predict", [0, probe])):
                out = raw_call(live_app, api_name, data)
                assert "sk-live" not in out and "secret-value" not in out and "api_key" not in out, out
                assert "event: error" in out or "not a file you uploaded" in out, out
        # Gradio itself lets the cached file through (it is in its folder): the app's own check refuses it
        assert "not a file you uploaded" in raw_call(live_app, "read_upload", [
            {"path": str(cached), "meta": {"_type": "gradio.FileData"}}, None, "auto", "auto"])
    finally:
        cached.unlink()
