"""The Elo / Bradley-Terry section: ratings with bootstrap intervals (tie allowed and no tie), the rating plots and
the observed vs predicted win-rate matrices, from a leaderboard evaluate.elo already computed; with a
style-controlled fit (evaluate.style_control), its ratings beside the plain ones, the style coefficients in Elo,
and the models whose rank changes once length and markdown are accounted for."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.report.plots import heatmap, ratings_plot
from chatrecipe.report.sections.format import SMALL_SAMPLE


def _interval(value: dict) -> str:
    return f"[{value['ci_low']:.0f}, {value['ci_high']:.0f}]" if value.get("ci_low") is not None else "n/a"


def _rounds(rounds) -> str:
    return f"({rounds} bootstrap rounds)" if rounds else "(no bootstrap: point ratings, no intervals)"


def plain_tables(board: dict) -> tuple[list[dict], list[str]]:
    """The tie-allowed and no-tie tables of a leaderboard, and a warning for each table that could not be made."""
    tables, warnings = [], []
    few = [m for m, n in board.get("battle_counts", {}).items() if n < SMALL_SAMPLE]
    if few:
        warnings.append(f"{', '.join(sorted(few))}: fewer than {SMALL_SAMPLE} battles each, so their ratings' "
                        "intervals are wide; read rank differences as suggestive, not as a result.")
    for key, title in (("tie_allowed", "Tie allowed"), ("tie_none", "No tie")):
        table = board[key]
        if "error" in table:
            warnings.append(f"{title}: {table['error']}")
            continue
        if board.get(f"{key}_unbounded"):
            warnings.append(f"{title}: {board[f'{key}_unbounded']}.")
        rows = sorted(([m, f"{v['value']:.0f}", _interval(v), board["battle_counts"].get(m, 0)]
                       for m, v in table.items()), key=lambda r: -float(r[1]))
        tables.append({"title": f"Bradley-Terry ratings, {title.lower()} {_rounds(board.get('bootstrap'))}",
                       "columns": ["model", "rating", "95% CI", "battles"], "rows": rows})
    return tables, warnings


def style_tables(style: dict) -> tuple[list[dict], list[str]]:
    """Plain vs style-controlled ratings side by side (rank changes flagged) and the coefficient table; a style
    fit that could not be made ({"error": ...}) is a warning."""
    if "error" in style:
        return [], [f"Style control: {style['error']}"]
    plain, styled, ranks = style["plain"], style["style_controlled"], style["ranks"]
    rows = []
    for m in sorted(styled, key=lambda m: ranks[m]["style"]):
        change = ranks[m]["change"]
        moved = f"{'up' if change > 0 else 'down'} {abs(change)}" if change else ""
        rows.append([m, f"{plain[m]['value']:.0f}", _interval(plain[m]), f"{styled[m]['value']:.0f}",
                     _interval(styled[m]), f"{styled[m]['value'] - plain[m]['value']:+.0f}",
                     f"{ranks[m]['plain']} -> {ranks[m]['style']}", moved])
    coefficients = [[c["label"], "not estimated" if c["elo"] is None else f"{c['elo']:+.1f}",
                     "n/a" if c.get("ci_low") is None else f"[{c['ci_low']:+.1f}, {c['ci_high']:+.1f}]",
                     f"{c['sd']:.3f}", c["text"]] for c in style["coefficients"]]
    rounds = _rounds(style["bootstrap"]["rounds"])
    tables = [{"title": f"Plain vs style-controlled ratings, tie allowed {rounds}",
               "columns": ["model", "plain", "95% CI", "style-controlled", "95% CI", "change", "rank",
                           "rank changed"], "rows": rows},
              {"title": "Style coefficients: what one standard deviation of relative style is worth",
               "columns": ["feature", "Elo per SD", "95% CI", "SD of (a - b) / (a + b + 1)", "reading"],
               "rows": coefficients}]
    warnings = []
    if style["rank_changes"]:
        warnings.append(f"{len(style['rank_changes'])} model(s) change rank once style is controlled: "
                        + ", ".join(f"{m} ({ranks[m]['plain']} -> {ranks[m]['style']})" for m in style["rank_changes"]))
    if style["excluded"]:
        shown = "; ".join(f"{e['where']}: {e['reason']}" for e in style["excluded"][:5])
        warnings.append(f"{len(style['excluded'])} battle(s) had no style features and are left out of the "
                        f"style-controlled table: {shown}" + ("; ..." if len(style["excluded"]) > 5 else ""))
    return tables, warnings


def judge_tables(comparison: dict) -> tuple[list[dict], list[str]]:
    """Each judge's ratings side by side (and style-controlled beside them), plus what relative length is worth
    to each judge; a judge whose battles could not be rated is a warning."""
    judges = {name: g for name, g in comparison["judges"].items() if "error" not in g}
    warnings = [f"{name}: {g['error']}" for name, g in comparison["judges"].items() if "error" in g]
    kinds = ("plain", "style_controlled") if comparison["style"] else ("plain",)
    columns = ["model"]
    for name, group in judges.items():
        for kind in kinds:
            label = f"{name} ({group['battles']} battles)" + (", style-controlled" if kind != "plain" else "")
            columns += [label, "95% CI"]
    rows = []
    for model in sorted({m for g in judges.values() for m in g["plain"]}):
        row = [model]
        for group in judges.values():
            for kind in kinds:
                value = group[kind].get(model)
                row += [f"{value['value']:.0f}", _interval(value)] if value else ["-", ""]
        rows.append(row)
    rounds = _rounds(comparison["bootstrap"])
    tables = [{"title": f"Judges side by side, tie allowed {rounds}", "columns": columns, "rows": rows}]
    if comparison["style"] and judges:
        tables.append({"title": "What one standard deviation of relative length is worth to each judge",
                       "columns": ["judge", "Elo per SD", "95% CI"],
                       "rows": [[name, "not estimated" if g["length"]["elo"] is None else f"{g['length']['elo']:+.1f}",
                                 "n/a" if g["length"].get("ci_low") is None else
                                 f"[{g['length']['ci_low']:+.1f}, {g['length']['ci_high']:+.1f}]"]
                                for name, g in judges.items()]})
    return tables, warnings


def elo_tables(board: dict, style: dict | None = None) -> tuple[list[dict], list[str]]:
    """Every table of the section and its warnings: the plain leaderboards, then the style-controlled ones."""
    tables, warnings = plain_tables(board)
    more_tables, more_warnings = style_tables(style) if style is not None else ([], [])
    return tables + more_tables, warnings + more_warnings


def elo_section(board: dict, out_dir: Path, source: str, plot_prefix: str = "eval",
                style: dict | None = None, judges: dict | None = None) -> tuple[dict, dict]:
    """`board` is evaluate.elo.leaderboard's result, `style` evaluate.style_control.style_control's (or None),
    `judges` evaluate.judge_comparison.compare_judges' (or None); plots go to `out_dir`, named under `plot_prefix`."""
    tables, warnings = elo_tables(board, style)
    if judges is not None:
        more_tables, more_warnings = judge_tables(judges)
        tables, warnings = tables + more_tables, warnings + more_warnings
    plots, per_model = [], {}
    for key, title in (("tie_allowed", "Tie allowed"), ("tie_none", "No tie")):
        if "error" not in board[key]:
            plots.append(ratings_plot(board[key], out_dir / f"elo_{key}.png", title=f"Ratings ({title.lower()})"))
            for m, v in board[key].items():
                per_model.setdefault(m, {})[f"elo_{key}"] = v
    matrices = board.get("matrices")
    if matrices and len(matrices["models"]) > 1:
        for kind in ("observed", "predicted"):
            plots.append(heatmap(matrices[kind], matrices["models"], out_dir / f"winrate_{kind}.png",
                                 title=f"{kind.capitalize()} win rate (row beats column)"))
    anchor = f"{board['anchor']} pinned at 1000" if board.get("anchor") else "mean 1000"
    text = (f"{board['battles']} battles from {source}; ratings on the Elo scale (base 10, scale 400, {anchor}).")
    metrics = {"battles": board["battles"]}
    if style is not None and "error" not in style:
        plots.append(ratings_plot(style["style_controlled"], out_dir / "elo_style_controlled.png",
                                  title="Style-controlled ratings (tie allowed)"))
        for m, v in style["style_controlled"].items():
            per_model.setdefault(m, {})["elo_style_controlled"] = v
        text += (" Style control (Chatbot Arena's): the verdicts are refitted with the answers' relative length, "
                 "headers, lists and bold as covariates, so a rating is what remains once style is accounted "
                 "for; the coefficients say what one standard deviation of relative style is worth.")
        metrics["rank_changes"] = len(style["rank_changes"])
    section = {"title": "Elo / Bradley-Terry leaderboard", "order": 70, "anchor": "elo", "warnings": warnings, "text": text,
               "tables": tables, "plots": [str(Path(plot_prefix) / p.name) for p in plots], "metrics": metrics}
    return section, per_model
