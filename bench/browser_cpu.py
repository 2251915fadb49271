"""The page's own cost: Chromium's CPU time while it follows a default run, two app versions side by side.

    python bench/browser_cpu.py --before 37aa44c          # writes docs/BENCHMARKS.md "Browser CPU"

For each version (a git commit, unpacked with `git archive` into a temp folder, and this checkout),
the script starts that version's app as its own process on a free port, opens it in headless
Chromium (the browser test's set-up), loads the digits example, presses step 3's Start with the
default settings, then step 4's Start once alignment is done, until the test headline shows or
`--window` seconds have passed. Meanwhile it reads the CPU time (utime + stime, /proc/<pid>/stat)
of every Chromium process: the renderers (the page's JavaScript, layout and plotly drawing) and the
rest (browser, GPU process). The share is CPU seconds over wall seconds, in % of one core. Both
versions run at the same time (two threads, two servers, two browsers), so they see the same
machine load and reach the same stages; the ratio is the figure to read, the absolute shares move
with how busy the machine is.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))
SECTION = "## Browser CPU"
TICK = os.sysconf("SC_CLK_TCK")
SERVER = ("import sys; sys.path.insert(0, '.'); from app.ui import build_ui, launch_options; "
          "d = build_ui(warm_up_umap=False); d.launch(server_name='127.0.0.1', server_port={port}, quiet=True, "
          "**launch_options())")


def unpack(commit: str, dest: Path) -> Path:
    """The tree of `commit` as plain files under `dest` (no git worktree: nothing shared is touched)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def chromium_cpu(driver_pid: int) -> dict[str, float]:
    """CPU seconds of the Chromium processes below chromedriver: renderers and the rest."""
    totals = {"renderer": 0.0, "other": 0.0}
    for pid in descendants(driver_pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if "chrom" not in cmdline:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        totals["renderer" if "--type=renderer" in cmdline else "other"] += seconds
    return totals


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def measure(app_root: Path, label: str, args) -> dict:
    """Start `app_root`'s app, drive one default run in Chromium, return the CPU shares."""
    from conftest import chrome_driver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from test_browser import click, text_of, wait_text

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = tempfile.mkdtemp(prefix="orca-cpu-runs-")
    env = {**os.environ, "ORCA_RUNS_DIR": runs, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(port=port)], cwd=app_root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with chrome_driver() as driver:
            WebDriverWait(driver, 120, poll_frequency=1).until(lambda d: _loaded(d, port))
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "use-example"))
            click(driver, "use-example")
            wait_text(driver, "data-status", "classification", timeout=120)
            time.sleep(2.0)  # the data preview settles before the clock starts
            pid = driver.service.process.pid
            args.barrier.wait(timeout=900)  # both versions press Start together
            cpu0, server0, t0 = chromium_cpu(pid), _own_cpu(server.pid), time.monotonic()
            deadline = t0 + args.window
            click(driver, "align-start")
            if _until(driver, "align-status", "Aligned", deadline):
                click(driver, "refine-start")
                _until(driver, "test-status", "Test accuracy", deadline)
            cpu1, server1, t1 = chromium_cpu(pid), _own_cpu(server.pid), time.monotonic()
            reached = " / ".join(text_of(driver, e).split("\n")[0][:70] for e in ("align-status", "refine-status"))
    finally:
        server.terminate()
        server.wait(30)
    wall = t1 - t0
    return {"version": label, "wall_s": round(wall, 1), "reached": reached,
            "renderer_pct": round(100 * (cpu1["renderer"] - cpu0["renderer"]) / wall, 1),
            "chromium_pct": round(100 * sum(cpu1[k] - cpu0[k] for k in cpu1) / wall, 1),
            "server_pct": round(100 * (server1 - server0) / wall, 1)}


def _until(driver, elem_id: str, needle: str, deadline: float) -> bool:
    from test_browser import text_of
    while time.monotonic() < deadline:
        if needle in text_of(driver, elem_id):
            return True
        time.sleep(2.0)
    return False


def _loaded(driver, port: int) -> bool:
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        return True
    except Exception:  # the server is still starting
        time.sleep(1)
        return False


def _own_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / TICK  # + children


def table(results: list[dict], before: str) -> str:
    lines = [SECTION, "",
             f"Chromium's CPU while it shows one default run on the `digits` example (MiniLM, default settings: "
             f"alignment to its plateau, then refinement and the baselines), from step 3's Start to the test "
             f"headline or the end of the window; % of one core; both versions at the same time, side by side "
             f"(`python bench/browser_cpu.py --before {before} --window ...`). *before* is the app at `{before}`, *after* this checkout. The renderer is the page "
             "itself (JavaScript, layout, plotly); *all Chromium* adds the browser and GPU processes; the "
             "server column is the app's process, training included, for scale. Machine: 2 shared CPU cores.",
             "", "| version | wall (s) | reached | renderer CPU | all Chromium CPU | server CPU |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['version']} | {r['wall_s']} | {r['reached']} | {r['renderer_pct']}% | "
                     f"{r['chromium_pct']}% | {r['server_pct']}% |")
    if len(results) == 2 and results[1]["renderer_pct"]:
        lines += ["", f"Renderer CPU share, before / after: **{results[0]['renderer_pct'] / results[1]['renderer_pct']:.1f}x**."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    doc = path.read_text()
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip() + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text + (doc[end:] if end >= 0 else "")
    path.write_text(doc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git commit of the 'before' app")
    parser.add_argument("--window", type=float, default=1800,
                        help="seconds measured from Start at most (the run may not finish on a busy machine)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    args.barrier = threading.Barrier(2)
    with tempfile.TemporaryDirectory(prefix="orca-before-") as tmp:
        roots = {"before": unpack(args.before, Path(tmp)), "after": ROOT}
        found: dict[str, dict] = {}
        threads = [threading.Thread(target=lambda k=k: found.__setitem__(k, measure(roots[k], k, args)))
                   for k in roots]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results = [found[k] for k in roots if k in found]
    for r in results:
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    write_section(args.out, table(results, args.before))


if __name__ == "__main__":
    main()
