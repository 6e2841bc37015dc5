"""PNG plots of the data tables for the report: length histograms per source, task bars against the target mix,
preference margins and the chosen-minus-rejected length difference.

Also the one pyplot set-up every plot of chatrecipe uses (report, training curves, MT-Bench radar): matplotlib's
Agg backend, so no display is needed, and figures closed once written, since pyplot keeps every open figure alive.
It lives here because data/ is the ground floor that every other package may import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Lay out, write the PNG and free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def length_histograms(by_source: dict[str, list], path: Path, label: str) -> Path:
    """One small histogram per source/split, on a shared log-spaced token axis so short and long sets compare."""
    plt = pyplot()
    names = list(by_source) or ["(empty)"]
    columns = min(len(names), 3)
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.6 * rows), squeeze=False)
    top = max([max(v) for v in by_source.values() if v] or [1])
    bins = np.unique(np.geomspace(1, max(top, 2), 30).round())
    for ax, name in zip(axes.flat, names):
        values = np.maximum(np.asarray(by_source.get(name, []), dtype=float), 1)
        ax.hist(values, bins=bins, color="#4C72B0")
        ax.set_xscale("log")
        if len(values):
            ax.axvline(float(np.median(values)), color="#C44E52", linestyle="--", linewidth=1,
                       label=f"median {np.median(values):.0f}")
            ax.legend(fontsize=7)
        ax.set_title(f"{name} (n={len(values)})", fontsize=9)
        ax.set_xlabel("tokens per example", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{label}: length distribution by source", fontsize=10)
    return save_figure(fig, path)


def task_bars(tasks: list[dict], target: str | None, path: Path, label: str) -> Path:
    """% of examples per category, with the target mix's % beside each bar when a target is given."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(tasks))
    width = 0.4 if target else 0.7
    ax.bar(x - (0.2 if target else 0), [t["percent"] for t in tasks], width=width, label="data", color="#4C72B0")
    if target:
        ax.bar(x + 0.2, [t.get("target_percent") or 0 for t in tasks], width=width, label=f"target: {target}",
               color="#DD8452")
    ax.set_xticks(x, [t["category"] for t in tasks], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("% of examples")
    ax.set_title(f"{label}: task distribution")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def value_histogram(values: list[float], path: Path, title: str, xlabel: str, zero_line: bool = False) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.hist(values, bins=min(40, max(5, len(values) // 5)), color="#55A868")
    if zero_line:
        ax.axvline(0, color="black", linewidth=1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pairs")
    return save_figure(fig, path)


def stats_plots(stats: dict, output_dir: Path, label: str) -> list[Path]:
    """Every plot that `stats` has data for; returns the PNG paths."""
    raw = stats["_raw"]
    written = [length_histograms(raw["total_by_source"], output_dir / "length_histogram.png", label),
               task_bars(stats["tasks"], stats.get("target_mix"), output_dir / "task_distribution.png", label)]
    if raw.get("margins"):
        written.append(value_histogram(raw["margins"], output_dir / "margins.png", f"{label}: preference margins",
                                       "margin"))
    if raw.get("length_diffs"):
        written.append(value_histogram(raw["length_diffs"], output_dir / "length_difference.png",
                                       f"{label}: chosen minus rejected length", "tokens", zero_line=True))
    return written


def confusion_matrix_plot(matrix: list[list[int]], labels: list[str], path: Path, title: str) -> Path:
    """Rows: true category, columns: predicted; each cell's count, shaded by the share of its row."""
    plt = pyplot()
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(0.55 * len(labels) + 2.5, 0.5 * len(labels) + 2))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(counts):
        if value:
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if shares[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
