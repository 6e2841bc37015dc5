"""The win-rate section: each trained checkpoint against the baseline, with its interval, the length-controlled
win rate, and the caveats (position consistency, length) that say how far to trust it."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.report.sections.format import small_sample, with_interval


def verdict_warnings(n: int, ties: int, pair: str) -> list[str]:
    """What makes a win rate weak evidence: too few judged questions, or nothing but ties (the console says it too)."""
    warnings = [w for w in (small_sample(n, "judged questions", pair),) if w]
    if n and ties == n:
        warnings.append(f"{pair}: every verdict was a tie, so this win rate says nothing about either model")
    return warnings


def winrate_section(results: list[dict], provenance: dict) -> tuple[dict, dict]:
    """`results` is evaluate.winrate.pairwise_win_rates' list, one entry per (model, baseline) pair."""
    rows, per_model, warnings = [], {}, []
    for entry in results:
        model, baseline = entry["model"], entry["baseline"]
        if "error" in entry:
            warnings.append(f"{model} vs {baseline}: {entry['error']}")
            continue
        result, consistency = entry["win_rate"], entry["consistency"]
        warnings += verdict_warnings(result["n"], result["ties"], f"{model} vs {baseline}")
        lc = entry.get("length_controlled")
        if lc is None:
            warnings.append(f"{model} vs {baseline}: no length-controlled win rate ({entry['length_controlled_error']})")
        rows.append([model, baseline, with_interval(result, 100),
                     f"{lc['length_controlled_winrate']:.1f}" if lc else "n/a",
                     f"{100 * result['se']:.1f}" if result["n"] > 1 else "",
                     result["wins"], result["ties"], result["losses"], entry["excluded_failures"],
                     f"{100 * consistency:.0f}%" if consistency is not None else "n/a"])
        per_model[model] = {f"win_rate_vs_{baseline}": result, "position_consistency": {"value": consistency}}
        if lc:
            per_model[model][f"lc_win_rate_vs_{baseline}"] = {"value": lc["length_controlled_winrate"] / 100}
        if consistency is not None and consistency < 0.6:
            warnings.append(f"{model} vs {baseline}: the judge gave the same verdict in both answer orders only "
                            f"{100 * consistency:.0f}% of the time; inconsistent pairs count as ties, so this win rate "
                            "mostly measures the judge's position bias.")
        share = entry["longer_wins_share"]
        if share["value"] is not None and share["n"] >= 10 and share["ci_low"] > 0.5:
            warnings.append(f"{model} vs {baseline}: the longer answer won {100 * share['value']:.0f}% of decisive "
                            "verdicts; part of this win rate may be length, not quality.")
    baselines = ", ".join(sorted({e["baseline"] for e in results})) or "the baseline"
    section = {"title": f"Win rate against {baselines} (pairwise, both orders)", "order": 60, "warnings": warnings,
               "text": "Each question is judged with the two answers in both orders; agreeing verdicts stand, "
                       "conflicting ones count as a tie (MT-Bench's rule). Ties count half. Failed verdicts are "
                       "excluded and counted. The LC win rate (AlpacaEval 2's length-controlled GLM) is the win rate "
                       "predicted as if both answers had the same length.",
               "tables": [{"title": "Win rates (%)", "columns": ["model", "baseline", "win rate [95% CI]",
                                                                 "LC win rate (minimal)", "SE",
                                                                 "wins", "ties", "losses", "failed",
                                                                 "position consistency"], "rows": rows}],
               "provenance": provenance, "metrics": {r[0]: r[2] for r in rows}}
    return section, per_model


def winrate_file_section(table: dict, out_dir: Path) -> dict:
    """The section `eval winrate --out DIR` writes: each pair's win rate (and LC win rate), named by its models,
    with its plot. `table` is evaluate.winrate.winrate_table's result."""
    from chatrecipe.report.plots import bars_with_intervals

    pairs = table["pairs"]
    lc = any("length_controlled" in r for r in pairs)
    rows, figures = [], {}
    for r in pairs:
        name = f"{r['model']} vs {r['baseline']}"
        figures[name] = r
        rows.append([name, with_interval(r, 100), f"{100 * r['se']:.1f}" if r["n"] > 1 else "", r["wins"],
                     r["ties"], r["losses"], r["n"], r["excluded_failures"]]
                    + ([f"{r['length_controlled']['length_controlled_winrate']:.1f}"] if lc else []))
    columns = ["pair", "win rate % [95% CI]", "SE", "wins", "ties", "losses", "items", "failed judgments"]
    columns += ["LC win rate %"] if lc else []
    plot = bars_with_intervals(figures, out_dir / "winrate.png", title="Win rate (ties half)", reference=0.5)
    return {"title": "Win rate", "tables": [{"title": "Win rate", "columns": columns, "rows": rows}],
            "plots": [plot.name], "metrics": table}
