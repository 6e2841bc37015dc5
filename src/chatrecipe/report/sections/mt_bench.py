"""The MT-Bench section: 1-10 grades per model (overall with its interval, per turn, per category) and the radar."""

from __future__ import annotations

from chatrecipe.report.sections.format import rounded, small_sample


def sample_warnings(table: dict) -> list[str]:
    """A warning per model graded on too few answers (mt_bench.single_scores' table); the console says them too."""
    return [w for m, r in table.items() if (w := small_sample(r["valid"], "graded answers", m))]


def mt_bench_section(table: dict, provenance: dict, radar: str | None = None) -> tuple[dict, dict]:
    """`table` is evaluate.mt_bench.single_scores' result; `radar` the run-relative path of its radar plot."""
    categories = sorted({c for row in table.values() for c in row["categories"]})
    rows = [[m, rounded(r["score"], 2), f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]" if r["valid"] > 1 else "",
             rounded(r["turns"].get(1), 2), rounded(r["turns"].get(2), 2), r["valid"], r["failed"],
             f"{r['repeat_median']:.2f} ± {r['repeat_spread'] / 2:.2f}" if "repeat_median" in r else "1 run"]
            for m, r in table.items()]
    per_category = [[m] + [rounded(r["categories"].get(c), 2) for c in categories] for m, r in table.items()]
    warnings = []
    failed = sum(r["failed"] for r in table.values())
    total = failed + sum(r["valid"] for r in table.values())
    warnings += sample_warnings(table)
    if total and failed / total > 0.2:
        warnings.append(f"{failed} of {total} grades could not be parsed and are excluded (not scored): the "
                        "judge does not follow the grading format reliably, so these scores are weak evidence.")
    section = {"title": "MT-Bench-style grades (1-10)", "order": 50, "warnings": warnings,
               "tables": [{"title": "Overall and per turn", "columns": ["model", "score", "95% CI", "turn 1",
                                                                         "turn 2", "graded", "failed",
                                                                         "repeats: median ± half-range"], "rows": rows},
                          {"title": "Per category", "columns": ["model"] + categories, "rows": per_category}],
               "plots": [radar] if radar else [],
               "provenance": provenance, "metrics": {m: r["score"] for m, r in table.items()}}
    per_model = {m: {"mt_bench": {"value": r["score"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]}}
                 for m, r in table.items() if r["score"] is not None}
    return section, per_model
