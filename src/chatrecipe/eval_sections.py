"""Turn evaluation results into report sections (tables, plots, provenance, warnings) and per-model headlines.

Each `*_section` returns `(section, per_model)`: the section is what the report shows; `per_model` holds the
headline numbers (value with interval) that the cross-run leaderboard collects. The recipe's caveats become
warnings right under the numbers they qualify.
"""

from __future__ import annotations

from pathlib import Path


def _fmt(x, digits: int = 3):
    return None if x is None else round(float(x), digits)


def _interval(d: dict, scale: float = 1.0, digits: int = 1) -> str:
    if d.get("value") is None:
        return "n/a"
    low, high = d.get("ci_low"), d.get("ci_high")
    text = f"{d['value'] * scale:.{digits}f}"
    return text + (f" [{low * scale:.{digits}f}, {high * scale:.{digits}f}]" if low is not None else "")


def mt_bench_section(single: list[dict], questions: list[dict], out_dir: Path) -> tuple[dict, dict]:
    from chatrecipe.evaluate.mt_bench import radar_plot, single_scores

    table = single_scores(single, questions)
    radar_plot(table, out_dir / "mt_bench_radar.png")
    categories = sorted({c for row in table.values() for c in row["categories"]})
    rows = [[m, _fmt(r["score"], 2), f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]" if r["valid"] > 1 else "",
             _fmt(r["turns"].get(1), 2), _fmt(r["turns"].get(2), 2), r["valid"], r["failed"],
             f"{r['repeat_median']:.2f} ± {r['repeat_spread'] / 2:.2f}" if "repeat_median" in r else "1 run"]
            for m, r in table.items()]
    per_category = [[m] + [_fmt(r["categories"].get(c), 2) for c in categories] for m, r in table.items()]
    warnings = []
    failed = sum(r["failed"] for r in table.values())
    total = failed + sum(r["valid"] for r in table.values())
    if total and failed / total > 0.2:
        warnings.append(f"{failed} of {total} grades could not be parsed and are excluded (not scored): the "
                        "judge does not follow the grading format reliably, so these scores are weak evidence.")
    section = {"title": "MT-Bench-style grades (1-10)", "order": 50, "warnings": warnings,
               "tables": [{"title": "Overall and per turn", "columns": ["model", "score", "95% CI", "turn 1",
                                                                         "turn 2", "graded", "failed",
                                                                         "repeats: median ± half-range"], "rows": rows},
                          {"title": "Per category", "columns": ["model"] + categories, "rows": per_category}],
               "plots": ["eval/mt_bench_radar.png"],
               "provenance": _provenance(single), "metrics": {m: r["score"] for m, r in table.items()}}
    per_model = {m: {"mt_bench": {"value": r["score"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}}
                 for m, r in table.items() if r["score"] is not None}
    return section, per_model


def _combined_hash(hashes) -> str:
    import hashlib

    return hashlib.sha256("".join(sorted({h for h in hashes if h})).encode()).hexdigest()[:12]


def _provenance(judgments: list[dict]) -> dict:
    if not judgments:
        return {}
    first = judgments[0]
    return {"judge": first.get("judge"), "prompts": sorted({j.get("prompt") for j in judgments if j.get("prompt")}),
            "prompt_hashes": sorted({j.get("prompt_hash") for j in judgments if j.get("prompt_hash")}),
            "questions_hash": _combined_hash(j.get("question_hash") for j in judgments),
            "prefill": first.get("prefill"),
            "judge_settings": first.get("judge_settings"), "dates": sorted({j.get("date") for j in judgments
                                                                             if j.get("date")}),
            "repeats": max(j.get("repeat", 0) for j in judgments) + 1, "judgments": len(judgments)}


def winrate_section(pairwise: list[dict], answers: dict, questions: list[dict], out_dir: Path,
                    seed: int = 0) -> tuple[dict, dict]:
    from chatrecipe.evaluate.audit import length_bias
    from chatrecipe.evaluate.length_control import LengthControlError, annotations_from_judgments, lc_win_rate
    from chatrecipe.evaluate.winrate import WinRateError, preferences_from_judgments, win_rate

    rows, per_model, warnings = [], {}, []
    pairs = sorted({(j["model_a"], j["model_b"]) for j in pairwise})
    for model, baseline in pairs:
        try:
            scores, stats = preferences_from_judgments(pairwise, model, baseline)
            result = win_rate(scores, seed=seed)
        except WinRateError as exc:
            warnings.append(f"{model} vs {baseline}: {exc}")
            continue
        consistency = stats.get("consistency")
        try:
            lc = lc_win_rate(annotations_from_judgments(pairwise, answers, model, baseline), "minimal")
            lc_text = f"{lc['length_controlled_winrate']:.1f}"
            per_lc = {"value": lc["length_controlled_winrate"] / 100}
        except LengthControlError as exc:
            lc_text, per_lc = "n/a", None
            warnings.append(f"{model} vs {baseline}: no length-controlled win rate ({exc})")
        rows.append([model, baseline, _interval(result, 100), lc_text,
                     f"{100 * result['se']:.1f}" if result["n"] > 1 else "",
                     result["wins"], result["ties"], result["losses"], stats["excluded_failures"],
                     f"{100 * consistency:.0f}%" if consistency is not None else "n/a"])
        per_model[model] = {f"win_rate_vs_{baseline}": result, "position_consistency": {"value": consistency}}
        if per_lc:
            per_model[model][f"lc_win_rate_vs_{baseline}"] = per_lc
        if consistency is not None and consistency < 0.6:
            warnings.append(f"{model} vs {baseline}: the judge gave the same verdict in both answer orders only "
                            f"{100 * consistency:.0f}% of the time; inconsistent pairs count as ties, so this win rate "
                            "mostly measures the judge's position bias.")
        model_answers = {k: v for k, v in answers.items() if k in (model, baseline)}
        bias = length_bias([j for j in pairwise if {j["model_a"], j["model_b"]} == {model, baseline}], model_answers)
        share = bias["longer_wins_share"]
        if share["value"] is not None and share["n"] >= 10 and share["ci_low"] > 0.5:
            warnings.append(f"{model} vs {baseline}: the longer answer won {100 * share['value']:.0f}% of decisive "
                            "verdicts; part of this win rate may be length, not quality.")
    baselines = ", ".join(sorted({b for _, b in pairs})) or "the baseline"
    section = {"title": f"Win rate against {baselines} (pairwise, both orders)", "order": 60, "warnings": warnings,
               "text": "Each question is judged with the two answers in both orders; agreeing verdicts stand, "
                       "conflicting ones count as a tie (MT-Bench's rule). Ties count half. Failed verdicts are "
                       "excluded and counted. The LC win rate (AlpacaEval 2's length-controlled GLM) is the win rate "
                       "predicted as if both answers had the same length.",
               "tables": [{"title": "Win rates (%)", "columns": ["model", "baseline", "win rate [95% CI]",
                                                                 "LC win rate (minimal)", "SE",
                                                                 "wins", "ties", "losses", "failed",
                                                                 "position consistency"], "rows": rows}],
               "provenance": _provenance(pairwise), "metrics": {r[0]: r[2] for r in rows}}
    return section, per_model


def elo_section(pairwise: list[dict], questions: list[dict], out_dir: Path, bootstrap: int = 1000,
                seed: int = 0, battles: list[dict] | None = None) -> tuple[dict, dict]:
    """Ratings from the judge's pairwise verdicts, or from given `battles` (any Arena-format file, humans too)."""
    from chatrecipe.evaluate.elo import battles_from_judgments, leaderboard
    from chatrecipe.report.plots import heatmap, ratings_plot

    source = "the battle files"
    if battles is None:
        battles, source = battles_from_judgments(pairwise, questions), "the judge's combined verdicts"
    (out_dir / "battles.jsonl").write_text("".join(__import__("json").dumps(b) + "\n" for b in battles))
    board = leaderboard(battles, bootstrap=bootstrap, seed=seed)
    tables, plots, per_model, warnings = [], [], {}, []
    for key, title in (("tie_allowed", "Tie allowed"), ("tie_none", "No tie")):
        table = board[key]
        if "error" in table:
            warnings.append(f"{title}: {table['error']}")
            continue
        rows = sorted(([m, f"{v['value']:.0f}", f"[{v['ci_low']:.0f}, {v['ci_high']:.0f}]",
                        board["battle_counts"].get(m, 0)] for m, v in table.items()), key=lambda r: -float(r[1]))
        tables.append({"title": f"Bradley-Terry ratings, {title.lower()} ({bootstrap} bootstrap rounds)",
                       "columns": ["model", "rating", "95% CI", "battles"], "rows": rows})
        plots.append(ratings_plot(table, out_dir / f"elo_{key}.png", title=f"Ratings ({title.lower()})"))
        for m, v in table.items():
            per_model.setdefault(m, {})[f"elo_{key}"] = v
    matrices = board.get("matrices")
    if matrices and len(matrices["models"]) > 1:
        for kind in ("observed", "predicted"):
            plots.append(heatmap(matrices[kind], matrices["models"], out_dir / f"winrate_{kind}.png",
                                 title=f"{kind.capitalize()} win rate (row beats column)"))
    section = {"title": "Elo / Bradley-Terry leaderboard", "order": 70, "warnings": warnings,
               "text": f"{board['battles']} battles from {source}; ratings on the Elo scale "
                       "(base 10, scale 400, mean 1000).",
               "tables": tables, "plots": [str(Path("eval") / p.name) for p in plots],
               "metrics": {"battles": board["battles"]}}
    return section, per_model


def _read_json(path):
    import json

    return json.loads(Path(path).read_text()) if path and Path(path).exists() else None


def audit_section(pairwise: list[dict], single: list[dict], answers: dict, out_dir: Path,
                  judge: str | None = None, checkpoints: dict | None = None,
                  judgments_files: dict | None = None, families: dict | None = None,
                  contamination_report: list[dict] | None = None,
                  questions: list[dict] | None = None) -> tuple[dict, dict]:
    from chatrecipe.evaluate.audit import (contamination, diversity_bias, length_bias, model_family, position_bias,
                                           scoring_vs_ranking, self_preference)
    from chatrecipe.evaluate.elo import battles_from_judgments
    from chatrecipe.report.plots import bars_with_intervals, binned_curve

    position = position_bias(pairwise)
    length = length_bias(pairwise, answers)
    diversity = diversity_bias(pairwise, answers)
    agreement = scoring_vs_ranking(pairwise, single) if single else {"agreement": {"value": None, "n": 0}}
    experiments = _read_json(judgments_files.get("audit_experiments")) if judgments_files else None
    figures = {"first-position share": position["first_position_share"],
               "swap consistency": position["swap_consistency"], "tie share": position["tie_share"],
               "longer answer wins": length["longer_wins_share"],
               "more diverse answer wins": diversity["more_diverse_wins_share"],
               "grades agree with verdicts": agreement["agreement"]}
    own = None
    if judge:
        own = self_preference(battles_from_judgments(pairwise), model_family(judge, families), families or {})
        figures["own-family answer wins"] = own["own_family_wins_share"]
    doped = contamination(contamination_report, questions or []) if contamination_report is not None else None
    if doped:
        figures["eval questions found in training data"] = doped["contaminated_questions"]
    if experiments:
        figures["first-position share, debiasing prompt"] = experiments["debiasing"]["debiased"]["first_position_share"]
        figures["injected answer beats its clean twin"] = experiments["injection"]["injected_wins_share"]
    rows = [[name, _interval(f, 100, 0) if f.get("value") is not None else "n/a", f.get("n", 0)]
            for name, f in figures.items()]
    plot = bars_with_intervals({k: v for k, v in figures.items() if v.get("value") is not None},
                               out_dir / "judge_audit.png", title="Judge audit (95% Wilson intervals)",
                               reference=0.5)
    curve = binned_curve(length["points"], out_dir / "length_bias.png", title="Length bias: does the longer answer win?",
                         xlabel="log(length of model_a / length of model_b)")
    warnings = []
    first = position["first_position_share"]
    if first["value"] is not None and first["n"] >= 10 and (first["ci_low"] > 0.5 or first["ci_high"] < 0.5):
        side = "first" if first["value"] > 0.5 else "second"
        warnings.append(f"Position bias: the judge picked the {side}-shown answer in {100 * first['value']:.0f}% of "
                        "decisive verdicts.")
    if experiments and experiments["debiasing"].get("effect"):
        warnings.append(f"Told about its first-position bias, the judge's bias {experiments['debiasing']['effect']} "
                        f"(on {experiments['questions']} questions).")
    injected = (experiments or {}).get("injection", {}).get("injected_wins_share", {})
    if injected.get("value") is not None and injected["n"] >= 5 and injected["value"] > 0.5:
        warnings.append(f"An answer carrying an instruction to the judge beat its clean twin in "
                        f"{100 * injected['value']:.0f}% of decisive verdicts: the judge can be steered by the text "
                        "it judges.")
    if doped and doped["training_records"]:
        warnings.append(f"{doped['training_records']} training records shared long n-grams with "
                        f"{len(doped['matches'])} evaluation questions (\"doping\"); they were removed before "
                        "training, but scores on those questions deserve suspicion.")
    unmeasured = (" Self-preference is not measured: no pair had exactly one model of the judge's family."
                  if own and own["own_family_wins_share"]["n"] == 0 else "")
    judged = set((checkpoints or {}).values()) | {m for j in pairwise for m in (j.get("model_a"), j.get("model_b"))}
    if judge and (judge in judged or judge == (checkpoints or {}).get("base")):
        warnings.append(f"The judge ({judge}) is the base model of the judged checkpoints: a judge of the same "
                        "family as the models (or their data generator) tends to prefer its own style.")
    section = {"title": "Judge audit", "order": 80, "warnings": warnings,
               "text": "Measured on this run's own judgments: how often the judge prefers the first position, "
                       "stays consistent when answers swap places, prefers the longer answer, and whether its 1-10 "
                       f"grades rank pairs the way its pairwise verdicts do. Failed verdicts: {position['failures']}."
                       + unmeasured,
               "tables": [{"title": "Judge quirks (%)", "columns": ["figure", "value [95% CI]", "n"], "rows": rows}],
               "plots": [str(Path("eval") / plot.name), str(Path("eval") / curve.name)],
               "metrics": {k: v.get("value") for k, v in figures.items()}}
    return section, {}
