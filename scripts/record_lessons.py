"""Record the ready-to-watch lessons in assets/lessons/ with the current code (real MiniLM body).

    python scripts/record_lessons.py                 # every lesson (about 10 minutes on 2 quiet cores)
    python scripts/record_lessons.py --only digits-minilm

Each run is an ordinary Session run with the live PCA projection; its events are compacted
(`orca_engine.lessons.compact_events`), server paths are replaced by the run's name, and the
result is written as `<role>.jsonl.gz` next to a `lesson.json` that names the data, the config of
each run, the code version and the bytes written. No weights are kept.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orca_engine.lessons import LESSONS_DIR, compact_events, write_events_gz  # noqa: E402
from orca_engine.run_cache import code_version  # noqa: E402
from orca_engine.session import Session  # noqa: E402

NO_ALIGN = {"align": {"objective": "none"}}
# The shorter lessons train less, so the whole set records in reasonable time on a busy 2-core machine.
SHORT = {"refine": {"min_steps": 150, "max_steps": 150}, "evaluate": {"baselines": "linear"}}

LESSONS = {
    "digits-minilm": {
        "order": 1, "title": "Digits on a text model (MiniLM): align, then refine",
        "summary": "8x8 handwritten digits fed to a sentence transformer. Watch the digit cloud move onto the "
                   "text cloud, then see whether that alignment helped, against the same run without it.",
        "data": "digits", "runs": {"aligned": {}, "no-align": NO_ALIGN},
    },
    "signals-minilm": {
        "order": 2, "title": "1-D signals on MiniLM",
        "summary": "Noisy sine, square, sawtooth and chirp waves as token sequences: a 1-D task, the kind where "
                   "a later re-analysis found some alignment helps.",
        "data": "synthetic-signals", "runs": {"aligned": SHORT},
    },
    "breast-cancer-minilm": {
        "order": 3, "title": "A table on MiniLM: breast-cancer measurements",
        "summary": "30 measurements per tumour, each feature one token. Small tabular data: a classical "
                   "baseline is hard to beat here; see by how much.",
        "data": "breast_cancer", "runs": {"aligned": SHORT},
    },
}


def record(name: str, spec: dict, session: Session, out: Path) -> dict:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    runs, total = {}, 0
    for role, extra in spec["runs"].items():
        config = {"data": {"source": spec["data"]}, **extra}
        started = time.time()
        run_id = session.start(config, owner="recorder", projection_method="pca")
        status = session.wait(run_id)
        if status.state != "finished":
            raise SystemExit(f"{name}/{role} ended {status.state}: {status.error}")
        records = _without_paths(session.events(run_id), str(session.run_dir(run_id)), run_id)
        events = compact_events(records)
        size = write_events_gz(folder / f"{role}.jsonl.gz", events)
        total += size
        runs[role] = {"events": f"{role}.jsonl.gz", "config": config, "seconds": round(time.time() - started, 1),
                      "test": status.metrics.get("test", {}), "bytes": size}
        print(f"{name}/{role}: {status.metrics.get('test', {})} in {runs[role]['seconds']} s, {size / 1024:.0f} KB",
              flush=True)
        session.release(run_id)
    meta = {k: v for k, v in spec.items() if k != "runs"}
    meta.update(name=name, runs=runs, bytes=total, code_version=code_version(),
                recorded=time.strftime("%Y-%m-%d %H:%M"))
    (folder / "lesson.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _without_paths(records: list[dict], run_dir: str, run_id: str) -> list[dict]:
    """The records with the server's path of the run folder replaced by the run's name."""
    text = json.dumps(records).replace(run_dir, run_id)
    return json.loads(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(LESSONS), help="record just these lessons")
    parser.add_argument("--out", type=Path, default=LESSONS_DIR)
    args = parser.parse_args(argv)
    session = Session(runs_dir=tempfile.mkdtemp(prefix="orca-lessons-"), projection_method="pca")
    for name in args.only or list(LESSONS):
        record(name, LESSONS[name], session, args.out)


if __name__ == "__main__":
    main()
