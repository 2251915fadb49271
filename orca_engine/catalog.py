"""What a UI may ask the engine outside any run: the choices it offers, what a file holds, recorded events.

Part of the app's one door: `orca_engine.session` re-exports everything here, and the app imports
nothing else of the engine but `config` and `errors`. Every heavy import (pandas, torch, umap) is
made inside the function that needs it, so importing the door stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .formats import suffixes

if TYPE_CHECKING:
    from .config import DataConfig
    from .data import Dataset

DATA_SUFFIXES = suffixes(training=True)  # what a data (or predict) upload may be


# -- choices ---------------------------------------------------------------------------------------

def example_choices() -> list[tuple[str, str]]:
    """(name, one-line description) of every bundled example dataset, in registry order."""
    from .data.examples import EXAMPLES
    return [(name, spec.description) for name, spec in EXAMPLES.items()]


def is_example(source: str) -> bool:
    from .data.examples import EXAMPLES
    return source in EXAMPLES


@dataclass(frozen=True)
class BackboneChoice:
    """A registered backbone as a picker shows it, with whether it can be loaded here and why not."""
    name: str
    kind: str
    params: int
    licence: str
    offline: bool
    description: str
    available: bool
    reason: str  # why it is (not) available


def backbone_choices() -> list[BackboneChoice]:
    from .backbones import BACKBONES
    return [backbone_choice(name) for name in BACKBONES]


def backbone_choice(name: str) -> BackboneChoice:
    from .backbones import BACKBONES, backbone_status
    spec = BACKBONES.get(name)
    available, reason = backbone_status(name)
    return BackboneChoice(name, spec.kind, spec.params, spec.licence, spec.offline, spec.description, available,
                          reason)


# -- files -----------------------------------------------------------------------------------------

def inspect_file(path: str | Path) -> dict[str, Any]:
    """A quick look at a file before it is loaded: columns, shapes, guesses (orca_engine.data.inspect_file)."""
    from .data import inspect_file as inspect
    return inspect(path)


def load_dataset(cfg: DataConfig, seed: int) -> Dataset:
    """The dataset as a run would see it (split and encoded): for previews and test-sample predictions."""
    from .data import load_dataset as load
    return load(cfg, seed)


def events_on_disk(run_dir: str | Path) -> list[dict[str, Any]]:
    """The event records a run folder holds (a run the session no longer has in memory)."""
    from .run_folder import RunFolder
    return RunFolder(run_dir).read_events()


def events_from_file(path: str | Path, max_bytes: int) -> list[dict[str, Any]]:
    """Event records from an uploaded events.jsonl or run zip; RunError when it holds none."""
    from .run_folder import read_event_file
    return read_event_file(path, max_bytes)


@dataclass(frozen=True)
class RunComparison:
    """Finished runs on one dataset, grouped by variant (orca_engine.compare.summary.comparison_table)."""
    dataset: str
    runs: int  # finished runs compared
    table: list[dict[str, Any]]  # one row per variant: seeds, metric, test mean and spread, OTDD, seconds


def compare_runs(run_dirs: list[str], dataset: str | None = None) -> RunComparison:
    """The finished runs among `run_dirs` on `dataset` (default: the latest run's), compared."""
    from .compare.summary import comparison_table, summarise_runs
    rows = summarise_runs(run_dirs)
    if dataset is None and rows:
        dataset = rows[-1]["dataset"]
    rows = [r for r in rows if r["dataset"] == dataset]
    return RunComparison(dataset or "", len(rows), comparison_table(rows) if rows else [])


# -- the live projection ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ProjectionStatus:
    """Whether UMAP frames can be drawn yet; PCA always can."""
    umap_ready: bool
    umap_unavailable: str | None  # why UMAP will not come (it failed too often), else None


def projection_notes() -> dict[str, str]:
    """What each projection method can and cannot show, in plain words (method -> note)."""
    from .projection import METHOD_NOTES
    return dict(METHOD_NOTES)


def projection_status(warm_up: bool = False) -> ProjectionStatus:
    """UMAP's readiness. `warm_up` starts compiling it in the background when it is not ready, and
    reports it unavailable when it failed too often to be tried again."""
    from . import projection
    if projection.is_umap_ready():
        return ProjectionStatus(True, None)
    if warm_up and projection.warm_up_umap_in_background() is None:
        return ProjectionStatus(False, projection.umap_unavailable_reason() or "it failed to start")
    return ProjectionStatus(False, None)


def warm_up_projection() -> None:
    """Compile UMAP's numba code in the background so the first UMAP frame does not stall a run."""
    from .projection import warm_up_umap_in_background
    warm_up_umap_in_background()


# -- lessons -----------------------------------------------------------------------------------------

def lesson_names(folder: str | Path | None = None) -> list[str]:
    """The recorded lessons shipped in assets/lessons (orca_engine.lessons)."""
    from .lessons import lesson_names as names
    return names(folder)


def load_lesson(name: str, folder: str | Path | None = None) -> Any:
    """One recorded lesson (orca_engine.lessons.Lesson): its text and its runs' events."""
    from .lessons import load_lesson as load
    return load(name, folder)
