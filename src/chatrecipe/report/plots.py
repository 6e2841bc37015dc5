"""The report's shared plot shapes: values with interval bars, matrices, binned curves, metric series."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.data.plots import pyplot, save_figure


def _whiskers(v: dict) -> list[list[float]]:
    """Error-bar lengths; a percentile bootstrap interval may exclude the point estimate, so clamp at zero."""
    return [[max(0.0, v["value"] - v["ci_low"])], [max(0.0, v["ci_high"] - v["value"])]]


def ratings_plot(table: dict[str, dict], path: Path, title: str) -> Path:
    """Horizontal ratings with 95% interval bars, best on top."""
    plt = pyplot()
    items = sorted(table.items(), key=lambda kv: kv[1]["value"])
    fig, ax = plt.subplots(figsize=(5.5, 0.5 + 0.45 * len(items)))
    for y, (model, v) in enumerate(items):
        ax.errorbar(v["value"], y, xerr=_whiskers(v) if v.get("ci_low") is not None else None, fmt="o", capsize=4)
    ax.set_yticks(range(len(items)), [m for m, _ in items])
    ax.set_xlabel("rating (Elo scale)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def bars_with_intervals(figures: dict[str, dict], path: Path, title: str, reference: float | None = None) -> Path:
    """Proportions as bars with interval whiskers; an optional reference line (e.g. 0.5 = no bias)."""
    plt = pyplot()
    names = list(figures)
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.5 * max(len(names), 1)))
    for y, name in enumerate(names):
        f = figures[name]
        ax.barh(y, f["value"], color="#8aa4d6")
        if f.get("ci_low") is not None:
            ax.errorbar(f["value"], y, xerr=_whiskers(f), fmt="none", ecolor="#1d2330", capsize=4)
    if reference is not None:
        ax.axvline(reference, color="#c44", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(0, 1)
    ax.set_title(title)
    return save_figure(fig, path)


def heatmap(matrix: list[list[float | None]], labels: list[str], path: Path, title: str) -> Path:
    """A model-by-model matrix (row beats column), values written in the cells; empty cells for no data."""
    import numpy as np

    plt = pyplot()
    values = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    size = 1.2 + 0.7 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(values, cmap="RdBu", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if not np.isnan(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("opponent")
    ax.set_ylabel("model")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def binned_curve(points: list[tuple[float, float]], path: Path, title: str, xlabel: str, bins: int = 8) -> Path:
    """Mean outcome against a quantity, in equal-count bins with standard-error bars (e.g. the
    share of wins against the log length ratio: a flat line at 0.5 means no length bias)."""
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    if points:
        x = np.array([p[0] for p in points])
        y = np.array([p[1] for p in points])
        order = np.argsort(x)
        for chunk in np.array_split(order, min(bins, len(order))):
            if len(chunk):
                mean = y[chunk].mean()
                err = np.sqrt(mean * (1 - mean) / len(chunk))
                ax.errorbar(x[chunk].mean(), mean, yerr=err, fmt="o", capsize=3, color="#3b5ba5")
    ax.axhline(0.5, color="#c44", linestyle="--", linewidth=1)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("win probability")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def series_plot(series: dict[tuple[str, str], list[tuple[float, float]]], metric: str, xlabel: str,
                path: Path) -> Path:
    """One metric against a quantity, a line per model (`series` maps (model, metric) to (x, y) points)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for (model, m), xy in sorted(series.items()):
        if m == metric:
            xy = sorted(xy)
            ax.plot([p[0] for p in xy], [p[1] for p in xy], marker="o", label=model)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs {xlabel}")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
