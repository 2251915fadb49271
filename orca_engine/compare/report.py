"""What a comparison leaves behind: runs.csv, table.csv, table.md, grid.json and PNG plots.

    paths = write_outputs(out_dir, run_dirs, settings={"command": ..., "preset": ...})
"""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Iterable

from ..run_folder import write_atomic, write_json
from .summary import comparison_table, rows_csv, summarise_runs, table_markdown


def machine_description() -> dict[str, Any]:
    """Where the numbers were measured: the wall times mean little without it."""
    import torch
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""}


def settings_notes(settings: dict[str, Any]) -> list[str]:
    """The lines above a table: the command, the budget and the machine it ran on."""
    notes = []
    if settings.get("command"):
        notes.append(f"Command: `{settings['command']}`")
    if settings.get("preset"):
        notes.append(f"Preset: {settings['preset']} (overrides: {settings.get('overrides', {})})")
    machine = settings.get("machine", {})
    if machine:
        gpu = f", {machine['cuda']}" if machine.get("cuda") else ""
        notes.append(f"Machine: {machine.get('processor')}, {machine.get('cpu_count')} CPUs visible, "
                     f"{machine.get('torch_threads')} torch threads{gpu}")
    if "seconds" in settings:
        notes.append(f"Grid wall time: {settings['seconds'] / 60:.1f} min for {settings.get('cells', '?')} runs")
    notes.append("Selection: every checkpoint and setting chosen on the validation split; test scored once per run.")
    return notes


def write_outputs(out_dir: str | Path, run_dirs: Iterable[str | Path], settings: dict[str, Any] | None = None,
                  plots: bool = True, title: str = "") -> dict[str, Path]:
    """Summarise `run_dirs` into tables (and plots) under `out_dir`; returns what was written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = settings or {}
    rows = summarise_runs(run_dirs)
    table = comparison_table(rows)
    written = {"runs.csv": out_dir / "runs.csv", "table.csv": out_dir / "table.csv",
               "table.md": out_dir / "table.md", "grid.json": out_dir / "grid.json"}
    write_atomic(written["runs.csv"], rows_csv(rows))
    write_atomic(written["table.csv"], rows_csv(table))
    write_atomic(written["table.md"], table_markdown(table, settings_notes(settings)))
    write_json(written["grid.json"], settings)
    if plots and rows:
        from .plots import write_plots
        for path in write_plots(rows, table, out_dir, title=title):
            written[path.name] = path
    return written
