"""The report's shared plot shapes: values with interval bars (ratings, proportions)."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _whiskers(v: dict) -> list[list[float]]:
    """Error-bar lengths; a percentile bootstrap interval may exclude the point estimate, so clamp at zero."""
    return [[max(0.0, v["value"] - v["ci_low"])], [max(0.0, v["ci_high"] - v["value"])]]


def ratings_plot(table: dict[str, dict], path: Path, title: str) -> Path:
    """Horizontal ratings with 95% interval bars, best on top."""
    plt = _pyplot()
    items = sorted(table.items(), key=lambda kv: kv[1]["value"])
    fig, ax = plt.subplots(figsize=(5.5, 0.5 + 0.45 * len(items)))
    for y, (model, v) in enumerate(items):
        ax.errorbar(v["value"], y, xerr=_whiskers(v), fmt="o", capsize=4)
    ax.set_yticks(range(len(items)), [m for m, _ in items])
    ax.set_xlabel("rating (Elo scale)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bars_with_intervals(figures: dict[str, dict], path: Path, title: str, reference: float | None = None) -> Path:
    """Proportions as bars with interval whiskers; an optional reference line (e.g. 0.5 = no bias)."""
    plt = _pyplot()
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
