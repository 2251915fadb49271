"""Static PNG figures of a comparison (for docs/RESULTS.md); matplotlib is imported lazily.

    write_plots(rows, table, out_dir, title="digits, minilm")  -> list of written paths

The app draws its own interactive charts from the same rows; these are for the written record.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

Rows = Sequence[Mapping[str, Any]]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    return plt


def write_plots(rows: Rows, table: Rows, out_dir: str | Path, title: str = "") -> list[Path]:
    """variants.png, otdd_vs_metric.png and (with several fractions) fractions.png in `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [_variants_plot(rows, table, out_dir / "variants.png", title),
               _otdd_plot(rows, out_dir / "otdd_vs_metric.png", title)]
    if len({r["train_fraction"] for r in rows}) > 1:
        written.append(_fractions_plot(table, out_dir / "fractions.png", title))
    return [p for p in written if p is not None]


def _variants_plot(rows: Rows, table: Rows, path: Path, title: str) -> Path | None:
    """Test metric per variant on all the training data: mean ± std bars, one dot per seed."""
    full = [t for t in table if t["train_fraction"] == 1.0]
    if not full:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(full) + 1.4))
    names = [t["variant"] for t in full]
    y = np.arange(len(full))[::-1]
    colours = ["tab:orange" if n == "orca" else "tab:grey" if n == "classical" else "tab:blue" for n in names]
    ax.barh(y, [t["test_mean"] for t in full], xerr=[np.nan_to_num(t["test_std"]) for t in full],
            color=colours, alpha=0.6, capsize=3)
    for yi, name in zip(y, names):
        seeds = [r["test"] for r in rows if r["variant"] == name and r["train_fraction"] == 1.0]
        ax.plot(seeds, [yi] * len(seeds), "k.", markersize=5)
    ax.set_yticks(y, names)
    metric, better = full[0]["metric"], "higher" if full[0]["higher_is_better"] else "lower"
    ax.set_xlabel(f"test {metric} ({better} is better); bars: mean ± std over seeds, dots: seeds")
    _zoom(ax, [r["test"] for r in rows if r["train_fraction"] == 1.0], axis="x")
    ax.set_title(title)
    return _save(fig, path)


def _otdd_plot(rows: Rows, path: Path, title: str) -> Path | None:
    """Final OTDD (after alignment, measured with otdd-exact) against the test metric, one dot per run."""
    points = [r for r in rows if np.isfinite(r["otdd_after"]) and np.isfinite(r["test"])]
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    variants = list(dict.fromkeys(r["variant"] for r in points))
    cmap = plt.get_cmap("tab10")
    for i, name in enumerate(variants):
        mine = [r for r in points if r["variant"] == name]
        full = [r for r in mine if r["train_fraction"] == 1.0]
        part = [r for r in mine if r["train_fraction"] != 1.0]
        label = f"{name} (OTDD to its own random source)" if name == "random-body" else name
        ax.scatter([r["otdd_after"] for r in full], [r["test"] for r in full], color=cmap(i % 10), label=label, s=28)
        if part:
            ax.scatter([r["otdd_after"] for r in part], [r["test"] for r in part], color=cmap(i % 10), s=28,
                       marker="x", label=f"{name} (< all data)")
    ax.set_xlabel("OTDD after alignment (otdd-exact, lower = closer to the source)")
    ax.set_ylabel(f"test {points[0]['metric']}")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def _fractions_plot(table: Rows, path: Path, title: str) -> Path | None:
    """Test metric against the share of the training split used, per variant run at several fractions."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    by_variant: dict[str, list] = {}
    for t in table:
        by_variant.setdefault(t["variant"], []).append(t)
    for name, points in by_variant.items():
        if len(points) < 2:
            continue
        points = sorted(points, key=lambda t: t["train_fraction"])
        ax.errorbar([t["train_fraction"] for t in points], [t["test_mean"] for t in points],
                    yerr=[np.nan_to_num(t["test_std"]) for t in points], marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("share of the training split used (data.train_fraction)")
    ax.set_ylabel(f"test {table[0]['metric']} (mean ± std over seeds)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _zoom(ax, values: list[float], axis: str) -> None:
    """Start the axis near the data rather than at zero, so small differences stay visible."""
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return
    lo, hi = min(values), max(values)
    pad = 0.1 * (hi - lo or abs(hi) or 1.0)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path
