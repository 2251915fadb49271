"""A class opens the app at once: 30 visitors through gradio_client, 25 on the default example, 5 on others.

    python bench/classroom_load.py                        # real MiniLM, cache warmed by one default run
    python bench/classroom_load.py --backbone tiny-bert   # the same load with the tiny test body (fast)
    python bench/classroom_load.py --cold                 # no warm-up: the 25 share the first run in progress

The server runs as its own process (`python app.py` with a fresh runs folder, ORCA_MAX_ACTIVE=1),
so its peak RSS (VmHWM) is the server's alone. Each visitor picks its example and presses the
refine step's Start (align, refine, test), then polls `/run_summary`:

- time to the first projection frame and to the test result, per class of visitor;
- how it was served: replayed from the cache, watching a shared run, or a run of its own, with the
  queue positions and ETAs it was told;
- meanwhile a probe fetches `/` and calls `/run_summary` once a second: their latency, median and 95th percentile.

Writes a markdown section to docs/results/classroom_load.md (and prints it).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OTHERS = [  # the five visitors who ask for something else
    {"example": "digits", "options": {"seed": 1}},
    {"example": "digits", "options": {"align_objective": "mmd"}},
    {"example": "wine", "options": {}},
    {"example": "synthetic-signals", "options": {}},
    {"example": "breast_cancer", "options": {}},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, runs: Path) -> subprocess.Popen:
    env = dict(os.environ, ORCA_RUNS_DIR=str(runs), ORCA_MAX_ACTIVE="1", GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1", ORCA_RELEASE_GRACE_S="600")
    code = ("from app.ui import build_ui, launch_options; "
            f"build_ui(warm_up_umap=False).launch(server_name='127.0.0.1', server_port={port}, quiet=True, "
            "**launch_options())")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)


def wait_up(url: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not come up at {url}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_page(url: str, example: str, result: dict) -> None:
    """A student opens the page and picks the example (before the class presses Start together)."""
    from gradio_client import Client
    try:
        started = time.time()
        result["client"] = Client(url, verbose=False, httpx_kwargs={"timeout": 600})
        result["client"].predict(example, api_name="/use_example")
        result["open_s"] = time.time() - started
    except Exception as error:  # noqa: BLE001 - reported per visitor
        result.update(state="exception", error=f"open: {type(error).__name__}: {error}")


def visit(url: str, example: str, options: dict, backbone: str, result: dict, deadline: float) -> None:
    if "client" not in result:
        open_page(url, example, result)
    client = result.pop("client", None)
    if client is None:
        return
    try:
        started = time.time()
        status = client.predict(**options, model_backbone=backbone, api_name="/start_refine")[0]
        result.update(how=_how(status), status=status.splitlines()[0][:90], start_s=time.time() - started)
        queue, etas = [], []
        while time.time() < deadline:
            s = client.predict(api_name="/run_summary")
            now = time.time() - started
            if s["queue_position"]:
                queue.append(s["queue_position"])
            if s.get("eta_s") is not None and s.get("state") == "running":
                etas.append(round(s["eta_s"]))
            if s["projection_frames"] and "first_frame_s" not in result:
                result["first_frame_s"] = now
            if s["test_metrics"] and "result_s" not in result:
                result["result_s"], result["test"] = now, s["test_metrics"]
            if "result_s" in result or s.get("state") in ("failed", "cancelled"):
                break
            time.sleep(0.5)
        result.update(queue_positions=sorted(set(queue)), etas_told=etas[:1] + etas[-1:], state=s.get("state"),
                      error=s.get("error", ""))
    except Exception as error:  # noqa: BLE001 - reported per visitor
        result.update(state="exception", error=f"{type(error).__name__}: {error}")


def _how(status: str) -> str:
    if "Replaying" in status:
        return "replay"
    if "Watching" in status:
        return "shared"
    return "own run"


PROBE = """
import json, sys, time, urllib.request
from gradio_client import Client
url, out = sys.argv[1], sys.argv[2]
client = Client(url, verbose=False, httpx_kwargs={"timeout": 600})
page, poll = [], []
while True:
    t = time.time(); urllib.request.urlopen(url, timeout=600).read(); page.append(time.time() - t)
    t = time.time(); client.predict(api_name="/run_summary"); poll.append(time.time() - t)
    open(out, "w").write(json.dumps({"page": page, "poll": poll}))
    time.sleep(1.0)
"""


def start_probe(url: str, out: Path) -> subprocess.Popen:
    """Its own process, so the visitors' threads in this one do not slow its measurements."""
    return subprocess.Popen([sys.executable, "-c", PROBE, url, str(out)], cwd=ROOT)


def quantiles(values: list[float]) -> str:
    if not values:
        return "—"
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"{statistics.median(values):.2f} / {p95:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--default-share", type=int, default=25, help="visitors asking for the default example")
    parser.add_argument("--cold", action="store_true", help="skip the warm-up run (the cache starts empty)")
    parser.add_argument("--budget-s", type=float, default=900, help="stop waiting for results after this long")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "classroom_load.md")
    args = parser.parse_args(argv)

    port, runs = free_port(), Path(tempfile.mkdtemp(prefix="orca-classroom-runs-"))
    url = f"http://127.0.0.1:{port}/"
    server = start_server(port, runs)
    try:
        wait_up(url)
        warm = {}
        if not args.cold:  # the teacher (or the first student) ran the default once already
            visit(url, "digits", {}, args.backbone, warm, time.time() + 3600)
            print("warm-up:", json.dumps(warm), flush=True)
        probe_file = runs / "probe.json"
        prober = start_probe(url, probe_file)
        plans = [("default", "digits", {})] * args.default_share
        plans += [("other", o["example"], o["options"]) for o in OTHERS][:args.visitors - args.default_share]
        results = [dict(kind=kind, example=ex, options=opt) for kind, ex, opt in plans]
        opening = [threading.Thread(target=open_page, args=(url, r["example"], r)) for r in results]
        for t in opening:  # the class opens the page over about a minute
            t.start()
            time.sleep(2.0)
        for t in opening:
            t.join()
        deadline = time.time() + args.budget_s
        threads = [threading.Thread(target=visit, args=(url, r["example"], r["options"], args.backbone, r, deadline))
                   for r in results]
        for t in threads:  # ... then everyone presses Start together
            t.start()
        for t in threads:
            t.join()
        prober.terminate()
        prober.wait(30)
        probed = json.loads(probe_file.read_text()) if probe_file.exists() else {}
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    report = render(args, warm, results, probed, rss)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    (args.out.with_suffix(".json")).write_text(json.dumps({"warm": warm, "visitors": results, "probe": probed,
                                                           "peak_rss_mb": rss}, indent=1))
    print(report)


def render(args, warm: dict, results: list[dict], probed: dict, rss: float) -> str:
    lines = [f"Classroom load: {len(results)} visitors, backbone `{args.backbone}`, "
             f"{'cold cache' if args.cold else 'cache warmed by one default run'}, ORCA_MAX_ACTIVE=1, "
             f"{os.cpu_count()} CPUs (`python bench/classroom_load.py --backbone {args.backbone}"
             f"{' --cold' if args.cold else ''}`).", ""]
    if warm:
        lines += [f"Warm-up default run: first frame {warm.get('first_frame_s', float('nan')):.1f} s, "
                  f"result {warm.get('result_s', float('nan')):.1f} s.", ""]
    lines += ["| visitors | served as | n | Start answered s (median / max) | first frame s (median / max) | "
              "result s (median / max) | queue positions told | unfinished |", "|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["kind"], r.get("how", r.get("state"))), []).append(r)
    for (kind, how), rows in sorted(groups.items()):
        first = [r["first_frame_s"] for r in rows if "first_frame_s" in r]
        done = [r["result_s"] for r in rows if "result_s" in r]
        queue = sorted({q for r in rows for q in r.get("queue_positions", [])})
        answered = [r["start_s"] for r in rows if "start_s" in r]
        lines.append(f"| {kind} | {how} | {len(rows)} | {_mm(answered)} | {_mm(first)} | {_mm(done)} | "
                     f"{', '.join(map(str, queue)) or '—'} | {len(rows) - len(done)} |")
    errors = [r["error"] for r in results if r.get("error")]
    opens = [r["open_s"] for r in results if "open_s" in r]
    lines += ["", f"Opening the page and picking the example (the class arriving 2 s apart): median / max "
                  f"{_mm(opens)} s."]
    lines += ["", f"Page `/` latency, median / p95: {quantiles(probed.get('page', []))} s; "
                  f"`/run_summary` poll: {quantiles(probed.get('poll', []))} s "
                  f"({len(probed.get('page', []))} probes). Server peak RSS: {rss:.0f} MB."]
    if errors:
        lines += ["", "Errors: " + "; ".join(sorted(set(errors)))[:600]]
    return "\n".join(lines) + "\n"


def _mm(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "—"


if __name__ == "__main__":
    main()
