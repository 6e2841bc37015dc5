"""The report's opening: did training help? One table, every measure the run took across every checkpoint, each
figure with its interval, and beside each judge-based measure whether the judge passed its own audit, so that a
number from a judge that mostly follows answer order is visibly weak evidence before anyone quotes it.

Measures are rows and checkpoints columns: a run has a handful of checkpoints and a dozen measures, and the
audit verdict then sits in one narrow column beside the figures it qualifies."""

from __future__ import annotations

from chatrecipe.report.sections.format import with_interval

# (key, heading, judged by the run's judge, scale, digits), in the table's order. A key ending in "_" is a prefix
# (win_rate_vs_<baseline>); any key also covers its variants "<key> (<kind>)". {} in a heading is that suffix.
COLUMNS = [
    ("mt_bench", "MT-Bench grade (1-10)", True, 1, 2),
    ("win_rate_vs_", "win rate vs {} (%)", True, 100, 1),
    ("lc_win_rate_vs_", "length-controlled win rate vs {} (%)", True, 100, 1),
    ("elo_tie_allowed", "rating (Bradley-Terry)", True, 1, 0),
    ("elo_style_", "rating, style-controlled", True, 1, 0),
    ("rm_accuracy", "reward accuracy, {} (%)", False, 100, 1),
    ("redteam_attack_success", "attack success (%, lower is better)", False, 100, 1),
    ("redteam_over_refusal", "over-refusal (%, lower is better)", False, 100, 1),
]
DETAILS_ONLY = {"position_consistency", "elo_tie_none"}  # shown in their own sections
MARKS = {True: "judge: passed its audit", False: "judge: FAILED its audit", None: "judge: not audited"}


def _column(key: str) -> tuple[int, str, bool, float, int] | None:
    """(position in COLUMNS, heading, judged, scale, digits) of a headline key, or None for one COLUMNS lacks."""
    for index, (name, heading, judged, scale, digits) in enumerate(COLUMNS):
        if key == name or key.startswith(name if name.endswith("_") else name + " "):
            return index, heading.format(key[len(name):].strip(" ()")), judged, scale, digits
    return None


def _columns(models: dict) -> list[tuple[str, str, bool, float, int]]:
    """(key, heading, judged, scale, digits) for every headline any checkpoint has, in the table's order."""
    keys = list(dict.fromkeys(k for values in models.values() for k, v in values.items()
                              if isinstance(v, dict) and v.get("value") is not None and k not in DETAILS_ONLY))
    known = sorted((_column(k), k) for k in keys if _column(k))
    others = [(k, k, False, 100 if all(0 <= (m.get(k) or {}).get("value", 0) <= 1 for m in models.values()) else 1, 1)
              for k in keys if not _column(k)]  # standard benchmarks and anything a new evaluation adds
    return [(k, heading, judged, scale, digits) for (_, heading, judged, scale, digits), k in known] + others


def summary_section(summary: dict) -> dict | None:
    """`summary` is report.run_folder.run_summary's result; None when the run has no evaluation yet."""
    models = {m: v for m, v in summary.get("models", {}).items() if v}
    columns = _columns(models)
    if not columns:
        return None
    audit = summary.get("judge_audit") or {}
    passed = audit.get("passed") if audit else None
    rows = [[heading, MARKS[passed] if judged else "no judge", *[with_interval(values[key], scale, digits)
                                                                 if key in values else "" for values in models.values()]]
            for key, heading, judged, scale, digits in columns]
    warnings = []
    if audit and passed is False:
        warnings.append(f"The judge ({audit.get('judge')}) failed its own audit on this run: "
                        + "; ".join(audit["reasons"]) + ". The measures marked 'judge: FAILED its audit' say more "
                        "about the judge than about the checkpoints; see the Judge audit section.")
    elif audit and passed is None:
        warnings.append("The judge could not be audited: " + "; ".join(audit["reasons"]) + ".")
    if any(judged for _, _, judged, _, _ in columns) and not audit:
        warnings.append("No pairwise verdicts, so the judge's position bias was not measured: read the "
                        "judge-based measures with care.")
    return {"title": "Summary: every checkpoint, every measure", "order": 1, "warnings": warnings,
            "text": "Each figure with its 95% interval (bootstrap or Wilson, as its section computed it; none where "
                    "the measure has none). Measures judged by the run's judge carry its audit verdict: consistent "
                    "verdicts when the two answers swap places, and no confident pull to one position. Details follow "
                    "in the sections below.",
            "tables": [{"title": "Every measure by checkpoint", "columns": ["measure", "judged by", *models],
                        "rows": rows}],
            "metrics": {"judge_passed_audit": passed}}
