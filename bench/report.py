"""Shared by the benchmark scripts: write one section of docs/BENCHMARKS.md, leaving the others alone."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nEach section is written by the script it names, on the machine it names; "
          "figures compared with each other were measured side by side in one run.\n")


def machine_line() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Machine: {os.cpu_count()} CPU cores ({cpu}), {gpu}, Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} torch threads; 1-min load average "
            f"{load:.1f} when the table was written (other jobs on a shared machine slow every figure).")


def write_section(heading: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) the `## heading` section of the benchmarks page with `body`."""
    text = path.read_text() if path.exists() else HEADER
    block = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
