"""Live-view benchmark: how fast the page can follow an alignment run.

    NUMBA_CACHE_DIR=.cache/numba python bench/live_view.py --sections projection

Each measurement is a function that returns a Markdown subsection ("### ..."); the script writes
every subsection it ran into the `## Live view` section of docs/BENCHMARKS.md, replacing that
subsection only, so other measurements (alignment slowdown, page load) live beside it. Add one
by writing `def <name>_section(args) -> str` and registering it in `SECTIONS`.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))  # before numba loads
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from orca_engine import projection  # noqa: E402

SECTION = "## Live view"
COMMAND = "NUMBA_CACHE_DIR=.cache/numba python bench/live_view.py --sections projection"


def clustered_features(n: int, dim: int, seed: int, classes: int = 10) -> np.ndarray:
    """(n, dim) float32: `classes` Gaussian clusters, like pooled embeddings of labelled data."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(classes, dim))
    return (centres[rng.integers(0, classes, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def frame_seconds(projector: projection.Projector, source: np.ndarray,
                  target: np.ndarray) -> float:
    """Wall time of one frame as the worker makes it: projection plus rounding for the event."""
    started = time.perf_counter()
    source_xy, target_xy = projector.project(source, target)
    projection.rounded(source_xy), projection.rounded(target_xy)
    return time.perf_counter() - started


def time_method(method: str, n: int, dim: int, frames: int) -> dict[str, float]:
    """First frame and `frames` later frames of a target drifting onto the source, n per side."""
    source = clustered_features(n, dim, seed=0)
    target_start = clustered_features(n, dim, seed=1) + 5.0
    projector = projection.Projector(method, seed=0)
    first = frame_seconds(projector, source, target_start)
    later = []
    for t in np.linspace(0.0, 1.0, frames + 1)[1:]:
        target = target_start + np.float32(t) * (source - target_start)  # (n, dim)
        later.append(frame_seconds(projector, source, target))
    if projector.last_method != method:
        raise RuntimeError(f"{method} frames fell back to {projector.last_method}")
    return {"first": first, "median": statistics.median(later), "max": max(later)}


def projection_section(args: argparse.Namespace) -> str:
    """Frame time per method and size, after umap-learn's JIT warm-up."""
    from orca_engine.projection.umap_process import service
    projection.warm_up_umap_in_background().join()
    warm_up = service().ready_seconds
    if not projection.is_umap_ready():
        raise RuntimeError(f"UMAP unavailable: {projection.umap_unavailable_reason()}")
    rows = []
    for n in args.points:
        for method in projection.METHODS:
            result = time_method(method, n, args.dim, args.frames)
            rows.append(f"| {n:,} | {method} | {1e3 * result['first']:.1f} "
                        f"| {1e3 * result['median']:.1f} | {1e3 * result['max']:.1f} "
                        f"| {1.0 / result['median']:.1f} |")
            print(rows[-1], flush=True)
    return "\n".join([
        "### Projection frame time",
        "",
        f"Command: `{COMMAND}`  ",
        f"Measured {time.strftime('%Y-%m-%d')} on {_machine()}; features {args.dim}-d, 10 "
        f"clusters per side, target drifting onto the source over {args.frames} frames; a frame "
        "is `Projector.project` plus rounding for the event, as the worker makes it (UMAP: in the "
        "UMAP process, including the transfer). Starting that process and compiling umap-learn in "
        f"it took {warm_up:.1f} s in this run (in the background at app start-up; PCA is shown "
        "until it ends).",
        "",
        "| points per side | method | first frame (ms) | later frames, median (ms) "
        "| later frames, max (ms) | frames/s (median) |",
        "|---:|---|---:|---:|---:|---:|",
        *rows,
        "",
        "First PCA frame fits the basis; first UMAP frame runs "
        f"{projection.Projector().first_epochs} epochs from the PCA layout, later ones "
        f"{projection.Projector().n_epochs} epochs from the previous frame. Target: one frame a second at 1,000 "
        "points per side.",
    ])


from live_view_runs import page_load_section, slowdown_section  # noqa: E402

SECTIONS: dict[str, Callable[[argparse.Namespace], str]] = {
    "projection": projection_section, "slowdown": slowdown_section, "page_load": page_load_section}


def _machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cores} CPU cores ({platform.processor() or platform.machine()}), "
            f"1-min load average {load:.1f} at the end (shared machine)")


def replace_subsection(text: str, body: str) -> str:
    """`text` with the `### ...` subsection named by body's first line replaced inside SECTION.

    The section is created at the end if absent; other sections and subsections are kept.
    """
    heading = body.splitlines()[0]
    lines = text.splitlines()
    if SECTION not in lines:
        lines += ["", SECTION, ""] if lines else ["# Benchmarks", "", SECTION, ""]
    start = lines.index(SECTION) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = lines[start:end]
    if heading in section:
        first = section.index(heading)
        last = next((i for i in range(first + 1, len(section))
                     if section[i].startswith(("### ", "## "))), len(section))
        section[first:last] = body.splitlines() + [""]
    else:
        section = _without_trailing_blanks(section) + ["", *body.splitlines(), ""]
    return "\n".join(lines[:start] + section + lines[end:]).rstrip("\n") + "\n"


def _without_trailing_blanks(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS), default=["projection"])
    parser.add_argument("--points", nargs="+", type=int, default=[500, 1000, 2000],
                        help="points per side (source and target each)")
    parser.add_argument("--dim", type=int, default=384, help="feature width (MiniLM: 384)")
    parser.add_argument("--frames", type=int, default=10, help="frames timed after the first")
    parser.add_argument("--data", default="digits", help="dataset for the run-based sections")
    parser.add_argument("--backbone", default="minilm", help="backbone for the run-based sections")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (slowdown section)")
    parser.add_argument("--steps", type=int, default=60, help="alignment steps per run (slowdown section)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the file")
    args = parser.parse_args(argv)
    for name in args.sections:
        body = SECTIONS[name](args)
        if args.dry_run:
            print(body)
            continue
        text = args.output.read_text() if args.output.exists() else ""
        args.output.write_text(replace_subsection(text, body))
        print(f"wrote {name} to {args.output}")


if __name__ == "__main__":
    main()
