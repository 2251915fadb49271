"""Export that works anywhere: self-contained figures, a README and reproduce.sh in the zip, the data file.

The engine zips the run folder (`Session.export_zip`, server paths replaced by the names the
visitor knows); this module adds what a person needs to use the zip away from the server:
`README.md` (what each file is, how to rerun), `reproduce.sh` (the command, runnable from a
checkout with nothing but the zip), `data/<name>` (an uploaded file, as uploaded) and
`figures/figures.html` (every figure in one file with plotly inside, so it opens offline).
"""
from __future__ import annotations

import shlex
import zipfile
from pathlib import Path

import plotly.io as pio

from . import messages, render
from .state import RunView

# files of a finished run, and what each one gives the person downloading it
RESULT_FILES = {"metrics.json": "test metrics", "model.safetensors": "trained weights",
                "model.json": "what rebuilds the model", "predictions.csv": "test predictions"}


def missing_results(run_dir: Path) -> list[str]:
    """What a run folder lacks of a finished run's files, in words ("trained weights (model.safetensors)")."""
    return [f"{what} ({name})" for name, what in RESULT_FILES.items() if not (run_dir / name).is_file()]


def figures_html(view: RunView, path: Path, run_id: str) -> Path:
    """Every figure of the run in one HTML file with plotly.js inlined once (opens with no network)."""
    parts, first = [], True
    for name, build in render.FIGURES.items():
        parts.append(f"<h2>{name.replace('_', ' ')}</h2>")
        parts.append(pio.to_html(build(view), include_plotlyjs=first, full_html=False))
        first = False
    title = messages.FIGURES_TITLE.format(run_id=run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                    f"<h1>{title}</h1><p>{messages.FIGURES_OFFLINE}</p>{''.join(parts)}</body></html>",
                    encoding="utf-8")
    return path


def command_text(flags_command: str, uploaded_name: str) -> str:
    """The command line shown on the page: how to get a python that has the engine, where the file goes."""
    note = messages.COMMAND_UPLOAD_NOTE.format(name=uploaded_name) if uploaded_name else ""
    return messages.COMMAND_HEADER + note + flags_command


def reproduce_script(uploaded_name: str) -> str:
    """reproduce.sh: rerun from the checkout's root with the zip's config (and data file), nothing else."""
    data = f' --data "$here/data/"{shlex.quote(uploaded_name)}' if uploaded_name else ""  # quoted for any name
    return ("#!/usr/bin/env bash\n"
            "# Rerun this run: from the root of an ORCA Explorer checkout, `bash <this folder>/reproduce.sh`.\n"
            "set -euo pipefail\n"
            'here="$(cd "$(dirname "$0")" && pwd)"\n'
            'python="${PYTHON:-python}"\n'
            '[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && python=.venv/bin/python\n'
            f'"$python" -m orca_engine run --config "$here/config.json"{data} "$@"\n')


def complete_zip(archive: Path, run_id: str, state: str, missing: list[str], uploaded: Path | None,
                 uploaded_name: str) -> None:
    """Add README.md, reproduce.sh and the uploaded data file to the engine's run zip, in the run's folder."""
    incomplete = ("\n\n**Incomplete**: " + messages.EXPORT_INCOMPLETE.format(
        state=state, present="what the run wrote so far", missing=", ".join(missing))) if missing else ""
    data_line = messages.ZIP_DATA_LINE.format(name=uploaded_name) if uploaded is not None else ""
    with zipfile.ZipFile(archive) as z:
        folder = z.namelist()[0].split("/")[0] if z.namelist() else run_id
    command = f"python -m orca_engine run --config {folder}/config.json" + (
        f" --data {shlex.quote(f'{folder}/data/{uploaded_name}')}" if uploaded is not None else "")
    readme = messages.ZIP_README.format(run_id=run_id, state=state, incomplete=incomplete, data_line=data_line,
                                        folder=folder, command=command)
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{folder}/README.md", readme)
        info = zipfile.ZipInfo(f"{folder}/reproduce.sh")
        info.external_attr = 0o755 << 16  # executable once unzipped
        z.writestr(info, reproduce_script(uploaded_name if uploaded is not None else ""))
        if uploaded is not None:
            z.write(uploaded, f"{folder}/data/{uploaded_name}")
