"""The Elo / Bradley-Terry section: ratings with bootstrap intervals (tie allowed and no tie), the rating plots and
the observed vs predicted win-rate matrices, from a leaderboard evaluate.elo already computed."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.report.plots import heatmap, ratings_plot


def elo_section(board: dict, out_dir: Path, source: str, plot_prefix: str = "eval") -> tuple[dict, dict]:
    """`board` is evaluate.elo.leaderboard's result; plots go to `out_dir` and are named under `plot_prefix`."""
    tables, plots, per_model, warnings = [], [], {}, []
    for key, title in (("tie_allowed", "Tie allowed"), ("tie_none", "No tie")):
        table = board[key]
        if "error" in table:
            warnings.append(f"{title}: {table['error']}")
            continue
        interval = board.get("bootstrap")
        rows = sorted(([m, f"{v['value']:.0f}",
                        f"[{v['ci_low']:.0f}, {v['ci_high']:.0f}]" if v.get("ci_low") is not None else "n/a",
                        board["battle_counts"].get(m, 0)] for m, v in table.items()), key=lambda r: -float(r[1]))
        tables.append({"title": f"Bradley-Terry ratings, {title.lower()} "
                                + (f"({interval} bootstrap rounds)" if interval else "(no bootstrap)"),
                       "columns": ["model", "rating", "95% CI", "battles"], "rows": rows})
        plots.append(ratings_plot(table, out_dir / f"elo_{key}.png", title=f"Ratings ({title.lower()})"))
        for m, v in table.items():
            per_model.setdefault(m, {})[f"elo_{key}"] = v
    matrices = board.get("matrices")
    if matrices and len(matrices["models"]) > 1:
        for kind in ("observed", "predicted"):
            plots.append(heatmap(matrices[kind], matrices["models"], out_dir / f"winrate_{kind}.png",
                                 title=f"{kind.capitalize()} win rate (row beats column)"))
    anchor = f"{board['anchor']} pinned at 1000" if board.get("anchor") else "mean 1000"
    section = {"title": "Elo / Bradley-Terry leaderboard", "order": 70, "warnings": warnings,
               "text": f"{board['battles']} battles from {source}; ratings on the Elo scale "
                       f"(base 10, scale 400, {anchor}).",
               "tables": tables, "plots": [str(Path(plot_prefix) / p.name) for p in plots],
               "metrics": {"battles": board["battles"]}}
    return section, per_model
